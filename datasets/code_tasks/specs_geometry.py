"""Task specs for the spatial families: ``geometry`` (points in the plane: distances, quadrants, polygon
areas, rectangles, grid walks) and ``matrices`` (lists of rows: transpose, trace, row and column sums,
rotation, spiral order). Each function returns one family's
:class:`~polyrlaif.datasets.code_tasks.build.TaskSpec` list; ``build.all_specs`` puts the
families in order, and the builder renders and checks them. Calls are argument source text: the first
``n_examples`` become docstring examples, so they are short, and the edge cases come after.
"""

from __future__ import annotations

import functools

from polyrlaif.datasets.code_tasks.build import TaskSpec

__all__ = ["geometry", "matrices"]


def geometry() -> list[TaskSpec]:
    """Tasks on points in the plane: distances, quadrants, polygon areas, rectangles, grid walks."""
    t = functools.partial(TaskSpec, "geometry")
    two = "(p: Tuple[int, int], q: Tuple[int, int])"
    pts = "points: List[Tuple[int, int]]"
    return [
        t(
            "manhattan_distance",
            f"{two} -> int",
            "easy",
            "Return the Manhattan distance |x1 - x2| + |y1 - y2| between the points p = (x1, y1) and "
            "q = (x2, y2).",
            """
          return abs(p[0] - q[0]) + abs(p[1] - q[1])
          """,
            ["(1, 2), (4, 6)", "(0, 0), (0, 0)", "(-1, -1), (1, 1)", "(5, 0), (2, 0)"],
        ),
        t(
            "squared_distance",
            f"{two} -> int",
            "easy",
            "Return the square of the straight-line distance between the integer points p and q.",
            """
          return (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2
          """,
            ["(0, 0), (3, 4)", "(1, 1), (1, 1)", "(-2, 0), (2, 0)", "(1, 2), (2, 1)"],
        ),
        t(
            "chebyshev_distance",
            f"{two} -> int",
            "easy",
            "Return the Chebyshev distance between p and q: the larger of |x1 - x2| and |y1 - y2|.",
            """
          return max(abs(p[0] - q[0]), abs(p[1] - q[1]))
          """,
            ["(1, 2), (4, 6)", "(0, 0), (0, 0)", "(-3, 1), (3, 2)", "(2, 9), (2, 1)"],
        ),
        t(
            "quadrant_of",
            "(x: int, y: int) -> int",
            "easy",
            "Return the quadrant (1, 2, 3 or 4, counter-clockwise starting from x > 0, y > 0) that the "
            "point (x, y) lies in, or 0 if the point is on an axis.",
            """
          if x == 0 or y == 0:
              return 0
          if x > 0:
              return 1 if y > 0 else 4
          return 2 if y > 0 else 3
          """,
            ["3, 4", "-3, 4", "-1, -1", "2, -5", "0, 7", "4, 0"],
        ),
        t(
            "polygon_double_area",
            f"({pts}) -> int",
            "medium",
            "points are the corners of a simple polygon in order (clockwise or counter-clockwise). Return "
            "twice its area, which is a non-negative integer (use the shoelace formula).",
            """
          total = 0
          for i in range(len(points)):
              x1, y1 = points[i]
              x2, y2 = points[(i + 1) % len(points)]
              total += x1 * y2 - x2 * y1
          return abs(total)
          """,
            [
                "[(0, 0), (4, 0), (4, 3)]",
                "[(0, 0), (2, 0), (2, 2), (0, 2)]",
                "[(0, 0), (0, 2), (2, 2), (2, 0)]",
                "[(1, 1), (2, 2), (3, 3)]",
                "[(0, 0), (5, 0), (5, 1), (1, 1), (1, 4), (0, 4)]",
            ],
        ),
        t(
            "are_collinear",
            "(p: Tuple[int, int], q: Tuple[int, int], r: Tuple[int, int]) -> bool",
            "medium",
            "Return True if the three integer points p, q and r lie on one straight line.",
            """
          return (q[0] - p[0]) * (r[1] - p[1]) == (q[1] - p[1]) * (r[0] - p[0])
          """,
            [
                "(0, 0), (1, 1), (3, 3)",
                "(0, 0), (1, 2), (2, 1)",
                "(1, 1), (1, 1), (5, 7)",
                "(0, 5), (1, 5), (9, 5)",
                "(2, 0), (2, 4), (3, 9)",
            ],
        ),
        t(
            "bounding_box",
            f"({pts}) -> Tuple[int, int, int, int]",
            "easy",
            "Return (min_x, min_y, max_x, max_y), the smallest axis-aligned box around points. points is "
            "not empty.",
            """
          xs = [x for x, _ in points]
          ys = [y for _, y in points]
          return (min(xs), min(ys), max(xs), max(ys))
          """,
            ["[(1, 5), (3, 2), (-1, 4)]", "[(0, 0)]", "[(2, 2), (2, 3)]", "[(-5, -5), (5, 5), (0, 9)]"],
        ),
        t(
            "closest_to_origin",
            f"({pts}) -> Tuple[int, int]",
            "medium",
            "Return the point of points that is closest to (0, 0). If several points are equally close, "
            "return the one that comes first. points is not empty.",
            """
          return min(points, key=lambda p: p[0] * p[0] + p[1] * p[1])
          """,
            [
                "[(3, 4), (1, 1), (5, 0)]",
                "[(2, 0), (0, 2)]",
                "[(7, 7)]",
                "[(-1, 0), (3, 3), (0, 1)]",
                "[(10, 0), (6, 8), (-9, 1)]",
            ],
        ),
        t(
            "rectangle_overlap_area",
            "(a: Tuple[int, int, int, int], b: Tuple[int, int, int, int]) -> int",
            "medium",
            "Each rectangle is (x1, y1, x2, y2) with x1 < x2 and y1 < y2, the corners of an axis-aligned "
            "rectangle. Return the area of the overlap of a and b (0 if they do not overlap).",
            """
          width = min(a[2], b[2]) - max(a[0], b[0])
          height = min(a[3], b[3]) - max(a[1], b[1])
          return max(width, 0) * max(height, 0)
          """,
            [
                "(0, 0, 2, 2), (1, 1, 3, 3)",
                "(0, 0, 1, 1), (2, 2, 3, 3)",
                "(0, 0, 10, 10), (2, 3, 4, 5)",
                "(0, 0, 2, 2), (2, 0, 4, 2)",
                "(-3, -3, 0, 0), (-1, -5, 5, -2)",
            ],
        ),
        t(
            "count_in_circle",
            f"({pts}, r: int) -> int",
            "medium",
            "Return how many of points lie inside or on the circle of radius r centred at (0, 0).",
            """
          return sum(1 for x, y in points if x * x + y * y <= r * r)
          """,
            ["[(1, 1), (3, 4), (5, 5)], 5", "[], 3", "[(0, 0)], 0", "[(2, 0), (0, -2), (2, 2)], 2"],
        ),
        t(
            "has_right_angle",
            "(p: Tuple[int, int], q: Tuple[int, int], r: Tuple[int, int]) -> bool",
            "medium",
            "p, q and r are three different integer points that are not on one line. Return True if the "
            "triangle they form has a right angle.",
            """
          def d2(a, b):
              return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2

          s = sorted([d2(p, q), d2(q, r), d2(p, r)])
          return s[0] + s[1] == s[2]
          """,
            [
                "(0, 0), (3, 0), (0, 4)",
                "(0, 0), (4, 0), (1, 3)",
                "(0, 0), (2, 1), (1, 3)",
                "(0, 0), (2, 0), (1, 5)",
                "(1, 1), (4, 1), (1, 5)",
                "(0, 0), (1, 1), (2, 0)",
            ],
        ),
        t(
            "rectangle_perimeter",
            "(x1: int, y1: int, x2: int, y2: int) -> int",
            "easy",
            "Return the perimeter of the axis-aligned rectangle with opposite corners (x1, y1) and "
            "(x2, y2), given in any order.",
            """
          return 2 * (abs(x2 - x1) + abs(y2 - y1))
          """,
            ["0, 0, 3, 2", "3, 2, 0, 0", "1, 1, 1, 1", "-2, 5, 2, -5"],
        ),
        t(
            "walk_grid",
            "(start: Tuple[int, int], moves: str) -> Tuple[int, int]",
            "easy",
            "Starting at the point start, follow moves, where 'U' adds 1 to y, 'D' subtracts 1 from y, "
            "'R' adds 1 to x and 'L' subtracts 1 from x. Return the final point.",
            """
          x, y = start
          for m in moves:
              if m == "U":
                  y += 1
              elif m == "D":
                  y -= 1
              elif m == "R":
                  x += 1
              elif m == "L":
                  x -= 1
          return (x, y)
          """,
            ["(0, 0), 'UUR'", "(5, 5), ''", "(1, 2), 'LLDD'", "(0, 0), 'UDLR'", "(-3, 0), 'RRRRRU'"],
        ),
    ]


def matrices() -> list[TaskSpec]:
    """Tasks on matrices as lists of rows: transpose, trace, row and column sums, spiral order."""
    t = functools.partial(TaskSpec, "matrices")
    grid = "(m: List[List[int]])"
    return [
        t(
            "transpose_matrix",
            f"{grid} -> List[List[int]]",
            "easy",
            "Return the transpose of the rectangular matrix m (rows become columns). The transpose of an "
            "empty matrix is [].",
            """
          return [list(row) for row in zip(*m)]
          """,
            ["[[1, 2, 3], [4, 5, 6]]", "[]", "[[7]]", "[[1], [2], [3]]"],
            n_examples=1,
        ),
        t(
            "matrix_trace",
            f"{grid} -> int",
            "easy",
            "Return the sum of the main diagonal m[0][0] + m[1][1] + ... of the square matrix m.",
            """
          return sum(m[i][i] for i in range(len(m)))
          """,
            ["[[1, 2], [3, 4]]", "[[5]]", "[]", "[[1, 0, 0], [0, -2, 0], [9, 9, 3]]"],
        ),
        t(
            "row_sums",
            f"{grid} -> List[int]",
            "easy",
            "Return the list of the sums of the rows of the matrix m.",
            """
          return [sum(row) for row in m]
          """,
            ["[[1, 2], [3, 4]]", "[]", "[[5, -5, 1]]", "[[], [1]]"],
        ),
        t(
            "column_sums",
            f"{grid} -> List[int]",
            "easy",
            "Return the list of the sums of the columns of the rectangular matrix m, which has at least "
            "one row.",
            """
          return [sum(col) for col in zip(*m)]
          """,
            ["[[1, 2], [3, 4]]", "[[5, -5, 1]]", "[[1], [2], [3]]", "[[0, 0], [0, 1]]"],
        ),
        t(
            "add_matrices",
            "(a: List[List[int]], b: List[List[int]]) -> List[List[int]]",
            "easy",
            "Return the element-wise sum of the matrices a and b, which have the same shape.",
            """
          return [[x + y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]
          """,
            ["[[1, 2], [3, 4]], [[10, 20], [30, 40]]", "[], []", "[[1]], [[-1]]", "[[1, 2, 3]], [[0, 0, 1]]"],
            n_examples=1,
        ),
        t(
            "multiply_matrices",
            "(a: List[List[int]], b: List[List[int]]) -> List[List[int]]",
            "medium",
            "Return the matrix product of a and b. a has as many columns as b has rows, and both have at "
            "least one row and one column.",
            """
          return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))]
                  for i in range(len(a))]
          """,
            [
                "[[1, 2], [3, 4]], [[5, 6], [7, 8]]",
                "[[2]], [[3]]",
                "[[1, 2, 3]], [[1], [1], [1]]",
                "[[1], [2]], [[3, 4]]",
                "[[1, 0], [0, 1]], [[9, 8], [7, 6]]",
            ],
            n_examples=1,
        ),
        t(
            "is_symmetric",
            f"{grid} -> bool",
            "medium",
            "Return True if the square matrix m is equal to its transpose, that is m[i][j] == m[j][i] for "
            "all i and j.",
            """
          n = len(m)
          return all(m[i][j] == m[j][i] for i in range(n) for j in range(n))
          """,
            ["[[1, 2], [2, 1]]", "[[1, 2], [3, 1]]", "[]", "[[4]]", "[[1, 7, 3], [7, 4, 5], [3, 5, 6]]"],
        ),
        t(
            "rotate_clockwise",
            f"{grid} -> List[List[int]]",
            "medium",
            "Return the square matrix m rotated by 90 degrees clockwise.",
            """
          return [list(row) for row in zip(*m[::-1])]
          """,
            ["[[1, 2], [3, 4]]", "[[1]]", "[]", "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]"],
            n_examples=1,
        ),
        t(
            "flatten_matrix",
            f"{grid} -> List[int]",
            "easy",
            "Return all entries of the matrix m in one list, row by row.",
            """
          return [x for row in m for x in row]
          """,
            ["[[1, 2], [3, 4]]", "[]", "[[5], [], [6, 7]]", "[[0]]"],
        ),
        t(
            "spiral_order",
            f"{grid} -> List[int]",
            "medium",
            "Return the entries of the rectangular matrix m in clockwise spiral order, starting at the "
            "top-left corner and going right first.",
            """
          out = []
          rows = [list(r) for r in m]
          while rows:
              out.extend(rows.pop(0))
              rows = [list(r) for r in zip(*rows)][::-1]
          return out
          """,
            [
                "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]",
                "[[1, 2], [3, 4]]",
                "[]",
                "[[1, 2, 3, 4]]",
                "[[1], [2], [3]]",
                "[[1, 2, 3], [4, 5, 6]]",
            ],
            n_examples=1,
        ),
        t(
            "identity_matrix",
            "(n: int) -> List[List[int]]",
            "easy",
            "Return the n by n identity matrix: 1 on the main diagonal and 0 everywhere else.",
            """
          return [[1 if i == j else 0 for j in range(n)] for i in range(n)]
          """,
            ["2", "0", "1", "3"],
            n_examples=1,
        ),
        t(
            "diagonal_difference",
            f"{grid} -> int",
            "medium",
            "Return the absolute difference between the sum of the main diagonal and the sum of the "
            "other diagonal (from top-right to bottom-left) of the square matrix m.",
            """
          n = len(m)
          return abs(sum(m[i][i] for i in range(n)) - sum(m[i][n - 1 - i] for i in range(n)))
          """,
            ["[[1, 2], [3, 4]]", "[[5]]", "[]", "[[11, 2, 4], [4, 5, 6], [10, 8, -12]]"],
        ),
        t(
            "row_maxima",
            f"{grid} -> List[int]",
            "easy",
            "Return the largest entry of each row of the matrix m. Every row is non-empty.",
            """
          return [max(row) for row in m]
          """,
            ["[[1, 5], [7, 2]]", "[]", "[[-3, -1, -2]]", "[[4], [4], [0, 9]]"],
        ),
    ]
