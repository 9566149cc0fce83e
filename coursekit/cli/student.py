"""``coursekit student-version NOTEBOOKS... -o OUT``: copies of the notebooks for students.

Each solution region (``### BEGIN SOLUTION`` … ``### END SOLUTION``) becomes ``# YOUR CODE HERE``
and ``raise NotImplementedError()``, outputs are cleared and the self-check cells are kept.
The input notebooks are never written; ``make student`` runs
``coursekit student-version notebooks/ -o build/student/``.
"""

from __future__ import annotations

import argparse

from coursekit.exercises.student_version import write_student_versions

__all__ = ["register", "run"]


def register(subparsers) -> None:
    """Add the ``student-version`` sub-command.

    Example:
        >>> parser = argparse.ArgumentParser(prog="coursekit")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["student-version", "notebooks/", "-o", "build/student/"])
        >>> args.sources, args.output, args.quiet, args.func is run
        (['notebooks/'], 'build/student/', False, True)
    """
    parser = subparsers.add_parser(
        "student-version",
        help="write student copies of the notebooks, solutions replaced by stubs",
        description="Write copies of the notebooks with every solution region replaced by "
                    "'# YOUR CODE HERE' + 'raise NotImplementedError()', outputs cleared and "
                    "self-checks kept. The inputs are never modified.",
    )
    parser.add_argument("sources", nargs="+", metavar="NOTEBOOKS",
                        help="notebook files or folders of notebooks (e.g. notebooks/)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder (e.g. build/student/); must differ from the inputs")
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
    written = write_student_versions(args.sources, args.output)
    total = 0
    for path, student in written:
        total += student.solutions
        if not args.quiet:
            print(f"{path}: {student.solutions} solution(s) replaced by stubs")
        for warning in student.warnings:
            print(f"warning: {path.name}: {warning}")
    print(f"wrote {len(written)} student notebook(s) with {total} exercise stub(s) to {args.output}")
    return 0
