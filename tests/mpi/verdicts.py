"""Shared by the fleet-verdict checks: the outputs' verdicts must be the same bits."""
import h5py


def same_verdicts(outs):
    """Opens outs[0] and checks every other output's /wafers/score and /wafers/flag are its bytes.
    Returns (the first file, its scores, its flags)."""
    first = h5py.File(outs[0], "r")
    score, flag = first["wafers/score"][:], first["wafers/flag"][:]
    for o in outs[1:]:
        f = h5py.File(o, "r")
        assert f["wafers/score"][:].tobytes() == score.tobytes(), f"{o}: /wafers/score differs from {outs[0]}"
        assert f["wafers/flag"][:].tobytes() == flag.tobytes(), f"{o}: /wafers/flag differs from {outs[0]}"
    return first, score, flag
