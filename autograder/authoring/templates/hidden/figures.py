"""Pictures for $assignment's feedback pages, drawn in the trusted lane next to the reference's.

The inputs are fixed and small, shown to students, and none of them is a hidden test's.
"""
from autograder.judge import figure_of, module, seeded

FIGURES = [
    {"title": "softmax(x, dim=-1) of a fixed 6 x 8 input", **figure_of("softmax", seeded(0, (6, 8), scale=2.0), dim=-1),
     "kind": "heatmap", "xlabel": "entry", "ylabel": "row", "vmin": 0.0, "vmax": 1.0,
     "caption": "Every row sums to 1; the largest entry of a row gets the most weight."},
    {"title": "Classifier(10, 32, 3) on 8 fixed inputs", **figure_of(module("Classifier", 10, 32, 3, seed=0),
                                                                     seeded(1, (8, 10))),
     "kind": "heatmap", "xlabel": "class", "ylabel": "input", "vmin": 0.0, "vmax": 1.0},
]
