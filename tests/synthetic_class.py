"""A synthetic grader output folder (grades.csv, checks.csv) for a whole class, for the report and export tests.

``write_class(out, students=180, seed=0)`` writes what ``python -m autograder grade`` would have written for a
class: the cells and check groups of assignments 01 and 03, each student with a skill level, typical mistakes
with their messages, and a few submissions that timed out, errored, hit a limit, were not notebooks or lacked
the notebook. Returns (grades rows, checks rows).
"""
import csv
import random
from pathlib import Path

GRADE_FIELDS = ("student", "assignment", "notebook", "cell", "points", "max_points", "status", "reason", "flags")
CHECK_FIELDS = ("student", "assignment", "notebook", "cell", "group", "passed", "message")

# assignment -> notebook, [(cell, points, [(group, [mistake messages])])]
COURSE = {
    "01_conv_arithmetic": ("conv_arithmetic.ipynb", [
        ("test_conv_output_size", 3, [("7x7 input, 3x3 filter, S=2", ["one short: did you forget the +1?",
                                                                      "stride ignored: divide by S"]),
                                      ("random sizes, strides and paddings", ["one short: did you forget the +1?",
                                                                              "padding counted once, not 2P"]),
                                      ("filter larger than the padded input", ["must raise ValueError"])]),
        ("test_same_padding", 2, [("odd filters", ["(F-1)/2 rounded the wrong way"]),
                                  ("even filter raises", ["must raise ValueError for an even filter"])]),
        ("test_conv_params", 2, [("with bias", ["bias forgotten: add one per filter"]),
                                 ("without bias", ["counted the bias although bias=False"])]),
        ("test_pool_shape", 2, [("2x2 pooling, stride 2", ["one short: did you forget the +1?"]),
                                ("overlapping windows", ["stride taken as the window size"])]),
        ("test_vgg16_memory_mb", 3, [("VGG-16 activations", ["counted bytes as 8 per float, not 4",
                                                             "forgot the ReLU outputs"])]),
    ]),
    "03_pooling": ("pooling.ipynb", [
        ("test_max_pool_forward", 3, [("2x2 stride 2", ["window start ignores the stride"]),
                                      ("overlapping 3x3 stride 2", ["window start ignores the stride"])]),
        ("test_max_pool_backward", 4, [("ties", ["gradient to every maximum, not the first"]),
                                       ("overlapping windows", ["= instead of +=: overlapping gradients lost"])]),
        ("test_pool_matrix", 3, [("A_MaxPool", ["column-major vec: use row-major (H.ravel())"])]),
    ]),
}

PROBLEMS = [("timeout", "the cell ran past the time limit and was stopped"),
            ("error", "the kernel died while running the notebook (os._exit, a crash or too much memory) "
                      "(DeadKernelError: Kernel died)"),
            ("limit", "the notebook reached its memory limit (4096 MiB per process): MemoryError"),
            ("ungradable", "not a notebook: the file is not valid JSON (Expecting value: line 1 column 1)"),
            ("missing", "no conv_arithmetic.ipynb in the submission")]


def make_class(students=180, seed=0):
    rng = random.Random(seed)
    names = [f"s{i:04d}" for i in range(students)]
    grades, checks = [], []
    broken = {names[i]: PROBLEMS[i % len(PROBLEMS)] for i in range(3, min(students, 3 + 2 * len(PROBLEMS)), 2)}
    for assignment, (notebook, cells) in COURSE.items():
        for student in names:
            skill = rng.betavariate(5, 2)
            trouble = broken.get(student) if assignment == "01_conv_arithmetic" else None
            for cell, points, groups in cells:
                if trouble:
                    grades.append(dict(zip(GRADE_FIELDS, (student, assignment, notebook, cell, 0.0, float(points),
                                                          trouble[0], trouble[1], ""))))
                    continue
                results = []
                for group, mistakes in groups:
                    if rng.random() < skill:
                        results.append((group, 1, ""))
                    else:
                        message = rng.choice(mistakes + ["not implemented yet"] if rng.random() < 0.15 else mistakes)
                        cases = rng.choice([1, 2, 3])
                        results.append((group + (f" ({cases} of 3 cases)" if cases > 1 else ""), 0, message))
                passed = sum(r[1] for r in results)
                score = round(points * passed / len(results), 6)
                status = "passed" if passed == len(results) else "failed" if passed == 0 else "partial"
                reason = "; ".join(f"{g}: {m}" for g, p, m in results if not p)
                flags = ("pasted course code: conv_output_size matches helpers.kernels.conv_output_shape"
                         if student == names[-1] and cell == cells[0][0] else "")
                grades.append(dict(zip(GRADE_FIELDS, (student, assignment, notebook, cell, float(score),
                                                      float(points), status, reason, flags))))
                checks += [dict(zip(CHECK_FIELDS, (student, assignment, notebook, cell, g, p, m)))
                           for g, p, m in results]
    return grades, checks


def write_class(out, students=180, seed=0):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grades, checks = make_class(students, seed)
    for name, fields, rows in (("grades.csv", GRADE_FIELDS, grades), ("checks.csv", CHECK_FIELDS, checks)):
        with open(out / name, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return grades, checks
