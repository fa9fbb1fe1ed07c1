"""Lab assignments: per-student parameters, starter folders, and graders that check what the network does.

A lab is a folder ``labs/labN_name/`` with ``handout.md`` (``{param}`` placeholders are filled per student),
``starter/`` (files a student edits, handed out), ``solution/`` (the reference, kept apart for teachers) and
``grader.py`` exposing ``LAB = Lab(...)``. Parameters derive deterministically from the student id and a course
secret (HMAC-SHA256), so each student gets different numbers and nobody can compute another student's without
the secret.

Student code never runs in the grader's process: ``call_student`` imports it in a child Python with a time
limit, so a crash, a hang or an ``exit()`` costs that check only. Checks that need a network build it with
``testbed.network.net.running``, which removes everything it created even when the student's code fails.

Pure parts (parameter derivation, scoring, the report) are unit-tested; ``start`` and ``grade`` touch files and,
for live checks, the network.
"""
import hashlib
import hmac
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from testbed import REPO
from testbed.errors import TestbedError
from testbed.reports.studentcode import MARKER

LABS_DIR = os.path.join(REPO, 'labs')
DEFAULT_SECRET = 'testbed-self-study'   # for self-study; a course sets TESTBED_COURSE_SECRET
STUDENT_TIMEOUT_S = 20
STUDENT_ID_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9._-]{0,63}')


@dataclass
class Check:
    """One graded item: points earned of points possible, and feedback that says what to do."""

    name: str
    points: float
    earned: float
    feedback: str

    @property
    def passed(self):
        return self.earned >= self.points


@dataclass
class Lab:
    number: int
    name: str
    title: str
    student_file: str                 # the file in the working folder that the grader reads
    parameters: object                # callable(rng) -> dict of the student's parameters
    grade: object                     # callable(workdir, params, log) -> [Check]
    folder: str = ''
    extra_files: tuple = field(default_factory=tuple)
    module: object = None             # the grader module itself (its helpers: a test measures as a student would)


# -- pure: parameters, scoring -----------------------------------------------------------------------------------

def course_secret():
    return os.environ.get('TESTBED_COURSE_SECRET') or DEFAULT_SECRET


def student_rng(lab_number, student, secret):
    """A random generator seeded by HMAC(secret, lab:student): deterministic, different per student and lab."""
    if not student or not str(student).strip():
        raise TestbedError('a student id is needed (--student ID)')
    digest = hmac.new(secret.encode(), f'lab{lab_number}:{student}'.encode(), hashlib.sha256).digest()
    return random.Random(int.from_bytes(digest[:8], 'big'))


def check_student(student):
    """Refuse a student id that could not name a folder of its own (``../x``, spaces, an empty id)."""
    if not STUDENT_ID_RE.fullmatch(student or ''):
        raise TestbedError(f'student id {student!r} must be letters, digits, ".", "_" or "-" (at most 64, not '
                           'starting with "." or "-")')


def student_params(lab, student, secret=None):
    return lab.parameters(student_rng(lab.number, student, secret or course_secret()))


def score(checks):
    """(earned, possible) over the checks."""
    return sum(c.earned for c in checks), sum(c.points for c in checks)


def report(lab, student, checks):
    """The grade as a dict for a course system (``--json``)."""
    earned, possible = score(checks)
    return {'lab': lab.number, 'name': lab.name, 'student': student, 'score': earned, 'possible': possible,
            'checks': [{'name': c.name, 'points': c.points, 'earned': c.earned, 'passed': c.passed,
                        'feedback': c.feedback} for c in checks]}


def render(template, params):
    """Fill ``{name}`` placeholders of a handout with the student's parameters (unknown ones stay as they are)."""
    class Keep(dict):
        def __missing__(self, key):
            return '{' + key + '}'
    return template.format_map(Keep({k: (f'{v:g}' if isinstance(v, float) else v) for k, v in params.items()}))


# -- the registry ------------------------------------------------------------------------------------------------

def registry():
    """{number: Lab} from labs/lab*/grader.py."""
    found = {}
    root = os.path.dirname(LABS_DIR)
    if root not in sys.path:
        sys.path.insert(0, root)
    for entry in sorted(os.listdir(LABS_DIR)) if os.path.isdir(LABS_DIR) else []:
        path = os.path.join(LABS_DIR, entry, 'grader.py')
        if not entry.startswith('lab') or not os.path.exists(path):
            continue
        spec = importlib.util.spec_from_file_location(f'labs_{entry}_grader', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        lab = module.LAB
        lab.folder = os.path.join(LABS_DIR, entry)
        lab.module = module
        found[lab.number] = lab
    return found


def resolve(number):
    labs = registry()
    try:
        return labs[int(number)]
    except (KeyError, ValueError):
        raise TestbedError(f'unknown lab {number!r} (known: {", ".join(str(n) for n in sorted(labs))})') from None


# -- running student code ----------------------------------------------------------------------------------------

def _run_child(mode, path, name, args, timeout):
    """Run the child program on the student's file; (result dict, None) or (None, 'timeout' | stderr's last line)."""
    try:
        done = subprocess.run([sys.executable, '-m', 'testbed.reports.studentcode', mode, path, name],
                              input=json.dumps(args),
                              capture_output=True, text=True, timeout=timeout, cwd=os.path.dirname(path))
    except subprocess.TimeoutExpired:
        return None, 'timeout'
    marker = done.stdout.rfind(MARKER)
    if marker < 0:
        return None, (done.stderr.strip().splitlines() or ['no output'])[-1]
    return json.loads(done.stdout[marker + len(MARKER):]), None


def call_student(path, function, *args, timeout=STUDENT_TIMEOUT_S):
    """Call ``function(*args)`` of the student's file ``path`` in a child Python; return (value, error).

    Arguments and the value travel as JSON. ``error`` is one line saying what went wrong (an exception, a time
    limit, a value that is not JSON), and the value is then None."""
    result, failure = _run_child('call', os.path.abspath(path), function, args, timeout)
    if failure == 'timeout':
        return None, f'{function}() did not return within {timeout} s (an endless loop?)'
    if failure:
        return None, f'{function}() stopped the program: {failure}'
    return result.get('value'), result.get('error')


def read_student_value(path, name, timeout=STUDENT_TIMEOUT_S):
    """A module-level value (``PREDICTIONS``, ``MEASURED``...) of the student's file, read the same safe way."""
    path = os.path.abspath(path)
    result, failure = _run_child('value', path, name, [], timeout)
    if failure == 'timeout':
        return None, f'importing {os.path.basename(path)} did not finish within {timeout} s'
    if failure:
        return None, f'{os.path.basename(path)} does not import: {failure}'
    return result.get('value'), result.get('error')


# -- commands ----------------------------------------------------------------------------------------------------

def same(kind, got, want):
    """Whether a student's value equals the expected one once both are read as ``kind`` (an address type, int):
    '2001:DB8::1' and '2001:db8::1' are the same address; a value that does not parse is not."""
    try:
        return kind(str(got)) == kind(str(want))
    except ValueError:
        return False


def cases_check(path, name, function, cases, kind, explain, points=2.0):
    """One graded item: the student's ``function`` on ``cases`` ([(args, expected)]), compared with ``same`` (or
    exactly, with ``kind`` None); the first wrong case or error is the feedback, with ``explain``."""
    for args, want in cases:
        got, error = call_student(path, function, *args)
        if error:
            return Check(name, points, 0, f'{error}. {explain}')
        if not (same(kind, got, want) if kind else got == want):
            return Check(name, points, 0, f'{function}{tuple(args)} returned {got!r}, expected {want!r}. {explain}')
    return Check(name, points, points, f'correct on {len(cases)} cases')


def start(number, student, directory=None, log=print):
    """Materialise a student's working folder: the starter files, params.json and the handout with their numbers."""
    check_student(student)
    lab = resolve(number)
    params = student_params(lab, student)
    directory = directory or f'lab{lab.number}-{student}'
    if os.path.exists(directory) and os.listdir(directory):
        raise TestbedError(f'{directory} already exists and is not empty: grade it, or give another --dir')
    # without the bytecode a run here may have left in the starter (it is not the student's)
    shutil.copytree(os.path.join(lab.folder, 'starter'), directory, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    with open(os.path.join(directory, 'params.json'), 'w') as handle:
        json.dump({'lab': lab.number, 'student': student, 'params': params}, handle, indent=1)
    with open(os.path.join(lab.folder, 'handout.md')) as handle:
        handout = render(handle.read(), params)
    with open(os.path.join(directory, 'handout.md'), 'w') as handle:
        handle.write(handout)
    if course_secret() == DEFAULT_SECRET:
        log('lab: no TESTBED_COURSE_SECRET set: parameters use the self-study secret (fine outside a course)')
    log(f'lab {lab.number} ({lab.title}) for {student}: {directory}/ (edit {lab.student_file}, read handout.md)')
    return directory


def locate(number, student, directory=None):
    """(lab, working folder) of a student, checked before anything runs."""
    check_student(student)
    lab = resolve(number)
    directory = directory or f'lab{lab.number}-{student}'
    path = os.path.join(directory, lab.student_file)
    if not os.path.exists(path):
        raise TestbedError(f'{path} does not exist (start the lab with: testbed lab start {lab.number} '
                           f'--student {student})')
    return lab, directory


def grade(number, student, directory=None, log=print):
    """Grade a working folder; returns the report dict. Parameters come from the student id, never the folder."""
    lab, directory = locate(number, student, directory)
    params = student_params(lab, student)
    checks = lab.grade(os.path.abspath(directory), params, log)
    return report(lab, student, checks)


def format_report(result):
    lines = [f'lab {result["lab"]} ({result["name"]}), student {result["student"]}: '
             f'{result["score"]:g} / {result["possible"]:g}']
    for check in result['checks']:
        mark = 'ok  ' if check['passed'] else ('part' if check['earned'] else 'miss')
        lines.append(f'  [{mark}] {check["name"]} ({check["earned"]:g}/{check["points"]:g}): {check["feedback"]}')
    return '\n'.join(lines)
