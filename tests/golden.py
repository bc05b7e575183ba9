"""Golden vectors of FIXED_POINT.md section 2, shared by the numpy and the C++ tests.

Each case: (x, width, integer, signed, rounding, overflow, sat_bits, expected value).
"""

_X3 = [1.25, -1.25, 1.75, -1.75, 0.75, -0.75, 1.375, -1.375, 0.25, -0.25]
_ROUNDING_TABLE = {  # ap_fixed<3,2,Q,AP_SAT>
    "TRN": [1.0, -1.5, 1.5, -2.0, 0.5, -1.0, 1.0, -1.5, 0.0, -0.5],
    "TRN_ZERO": [1.0, -1.0, 1.5, -1.5, 0.5, -0.5, 1.0, -1.0, 0.0, 0.0],
    "RND": [1.5, -1.0, 1.5, -1.5, 1.0, -0.5, 1.5, -1.5, 0.5, 0.0],
    "RND_ZERO": [1.0, -1.0, 1.5, -1.5, 0.5, -0.5, 1.5, -1.5, 0.0, 0.0],
    "RND_MIN_INF": [1.0, -1.5, 1.5, -2.0, 0.5, -1.0, 1.5, -1.5, 0.0, -0.5],
    "RND_INF": [1.5, -1.5, 1.5, -2.0, 1.0, -1.0, 1.5, -1.5, 0.5, -0.5],
    "RND_CONV": [1.0, -1.0, 1.5, -2.0, 1.0, -1.0, 1.5, -1.5, 0.0, 0.0],
}

_X4 = [19, -19, 8, -9, 12, -12]
_OVERFLOW_TABLE = {  # ap_fixed<4,4,AP_TRN,O,N>
    ("WRAP", 0): [3, -3, -8, 7, -4, 4],
    ("WRAP", 1): [3, -3, 0, -1, 4, -4],
    ("WRAP", 2): [7, -7, 4, -5, 4, -8],
    ("SAT", 0): [7, -8, 7, -8, 7, -8],
    ("SAT_ZERO", 0): [0, 0, 0, 0, 0, 0],
    ("SAT_SYM", 0): [7, -7, 7, -7, 7, -7],
    ("WRAP_SM", 0): [-4, 2, 7, -8, 3, -5],
}

GOLDEN = (
    [(x, 3, 2, True, q, "SAT", 0, e) for q, row in _ROUNDING_TABLE.items() for x, e in zip(_X3, row)]
    + [(x, 4, 4, True, "TRN", o, n, e) for (o, n), row in _OVERFLOW_TABLE.items() for x, e in zip(_X4, row)]
    + [(x, 4, 4, False, "TRN", "WRAP", 1, e) for x, e in zip([19, -19, -9, -12], [11, 13, 15, 12])]
    + [
        # overflow is applied after rounding, so a rounding carry can overflow
        (7.75, 4, 4, True, "RND", "SAT", 0, 7),
        (7.75, 4, 4, True, "RND", "WRAP", 0, -8),
        # SAT_SYM never produces the most-negative code
        (-8, 4, 4, True, "TRN", "SAT_SYM", 0, -7),
        # 7 + 7 assigned to <4,4,TRN,SAT>
        (14, 4, 4, True, "TRN", "SAT", 0, 7),
    ]
)

# (a type, b type, op, result type); a type is (width, integer, signed)
RESULT_TYPES = [
    ((8, 3, True), (6, 2, False), "*", (14, 5, True)),
    ((8, 3, True), (6, 2, False), "+", (9, 4, True)),
    ((6, 2, False), (6, 2, False), "-", (7, 3, True)),
    ((6, 2, False), (6, 2, False), "+", (7, 3, False)),
    ((6, 3, True), (6, 3, True), "/", (10, 7, True)),
    ((4, 2, False), (4, 2, True), "+", (6, 4, True)),
]
