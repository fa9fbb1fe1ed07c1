"""The child program that runs a student's code for a grader, apart from the grader's own process.

``python -m testbed.reports.studentcode MODE PATH NAME`` imports the student's file ``PATH``, then either calls its
function ``NAME`` with the JSON list of arguments read from stdin (MODE ``call``) or reads its module-level value
``NAME`` (MODE ``value``), and writes the result as JSON after ``MARKER`` (the student may print too). A failure of
the student's code becomes ``{"error": "..."}`` naming the line; a failure to import ends the program, and the
parent reports its last line."""
import importlib.util
import json
import sys
import traceback

MARKER = '@@RESULT@@'


def _describe_failure(exc: Exception, name: str, path: str) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f'line {frame.lineno}' for frame in reversed(frames) if frame.filename == path), '')
    if isinstance(exc, NotImplementedError):
        return f'{name}() is not written yet (it raises NotImplementedError, {where})'
    return f'{name}() raised {type(exc).__name__}: {exc}' + (f' ({where})' if where else '')


def run(mode: str, path: str, name: str, arguments: list) -> dict:
    """``{'value': ...}`` or ``{'error': ...}`` for one call of (or one read from) the student's file."""
    spec = importlib.util.spec_from_file_location('student', path)
    module = importlib.util.module_from_spec(spec)
    if mode == 'value':
        spec.loader.exec_module(module)  # an import error ends the program: the parent reports its last line
        return {'value': getattr(module, name, None)}
    try:
        spec.loader.exec_module(module)
        return {'value': getattr(module, name)(*arguments)}
    except Exception as exc:  # the student's code may raise anything: say what and where
        return {'error': _describe_failure(exc, name, path)}


def main() -> None:
    mode, path, name = sys.argv[1:4]
    result = run(mode, path, name, json.loads(sys.stdin.read() or '[]'))
    try:
        text = json.dumps(result)
    except (TypeError, ValueError):
        text = json.dumps({'error': f"returned {type(result.get('value')).__name__}, not plain data"})
    sys.stdout.write('\n' + MARKER + text)


if __name__ == '__main__':
    main()
