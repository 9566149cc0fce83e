"""``coursekit student-version NOTEBOOKS... -o OUT``: copies of the notebooks for students.

Each solution region (``### BEGIN SOLUTION`` … ``### END SOLUTION``) becomes ``# YOUR CODE HERE``
and ``raise NotImplementedError()``, the exercise's name is removed from ``coursekit`` imports,
outputs and widget state are cleared, the self-check cells are kept, and exercise and check
cells carry nbgrader metadata (see :mod:`coursekit.exercises.student_version`). The input
notebooks are never written; ``make student`` runs
``coursekit student-version notebooks/ -o build/student/``.
"""

from __future__ import annotations

import argparse
import sys

from coursekit.exercises.student_version import write_student_versions

__all__ = ["register", "run"]


def register(subparsers) -> None:
    """Add the ``student-version`` sub-command.

    Example:
        >>> parser = argparse.ArgumentParser(prog="coursekit")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["student-version", "notebooks/", "-o", "build/student/"])
        >>> args.sources, args.output, args.quiet, args.keep_solutions, args.func is run
        (['notebooks/'], 'build/student/', False, False, True)
    """
    parser = subparsers.add_parser(
        "student-version",
        help="write student copies of the notebooks, solutions replaced by stubs",
        description="Write copies of the notebooks with every solution region replaced by "
                    "'# YOUR CODE HERE' + 'raise NotImplementedError()', the exercise names "
                    "removed from coursekit imports, outputs and widget state cleared, "
                    "self-checks kept, and nbgrader metadata on exercise and check cells. "
                    "The inputs are never modified. Exit status: 0 written, 2 bad input "
                    "(nothing written).",
    )
    parser.add_argument("sources", nargs="+", metavar="NOTEBOOKS",
                        help="notebook files or folders of notebooks (e.g. notebooks/)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder (e.g. build/student/); must differ from the inputs")
    parser.add_argument("--keep-solutions", action="store_true",
                        help="write the instructor version for nbgrader instead: the same "
                             "copies and metadata with the solutions kept (nbgrader "
                             "generate_assignment turns it into the student version)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the student versions; print one line per notebook and a summary.

    Example:
        >>> import os, tempfile, nbformat
        >>> tmp = tempfile.mkdtemp()
        >>> code = "def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n    ### END SOLUTION"
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        >>> nbformat.write(nb, os.path.join(tmp, "lesson.ipynb"))
        >>> sources = [os.path.join(tmp, "lesson.ipynb")]
        >>> run(argparse.Namespace(sources=sources, output=os.path.join(tmp, "out"), quiet=True))
        wrote 1 student notebook(s) with 1 exercise stub(s) to .../out
        0
    """
    keep = getattr(args, "keep_solutions", False)
    written = write_student_versions(args.sources, args.output, keep_solutions=keep)
    total = 0
    for path, student in written:
        total += student.solutions
        if not args.quiet:
            done = "kept, with nbgrader metadata" if keep else "replaced by stubs"
            line = f"{path}: {student.solutions} solution(s) {done}"
            if student.unimported:
                line += f"; {', '.join(student.unimported)} no longer imported from coursekit"
            print(line)
        for warning in student.warnings:
            print(f"coursekit: warning: {path.name}: {warning}", file=sys.stderr)
    if keep:
        print(f"wrote {len(written)} instructor notebook(s) with {total} solution(s) for nbgrader "
              f"to {args.output}")
    else:
        print(f"wrote {len(written)} student notebook(s) with {total} exercise stub(s) to "
              f"{args.output}")
    return 0
