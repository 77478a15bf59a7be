"""Which kernel family the OpenBLAS loaded in this process runs (for the benches' reports).

The benchmark machines may pin OpenBLAS with OPENBLAS_CORETYPE (older builds misbehaved on their
CPUs); a pinned family can be far slower than the one OpenBLAS picks itself, so every bench that
compares against PyTorch prints the family PyTorch ran. The npm `bench` scripts unset the pin (and
OPENBLAS_L2_SIZE) for their command alone.
"""
import ctypes


def openblas_core() -> str:
    """openblas_get_corename() of the libopenblas mapped into this process, or 'none' / 'unknown'."""
    try:
        with open("/proc/self/maps", encoding="utf8") as maps:
            paths = {line.split()[-1] for line in maps if "libopenblas" in line}
    except OSError:
        return "unknown"
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return "none"
