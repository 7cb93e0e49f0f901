"""Exception-driven rules: each fixes a bug of its kind and leaves a near miss alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from patches.repair.rules import apply_rules
from patches.types import Candidate, FaultKind, Location, RepairRequest, TraceFrame

MakeRepo = Callable[[dict[str, str]], Path]


def fault(path: str, line: int, exc_type: str, message: str) -> RepairRequest:
    return RepairRequest(
        fault_id="f",
        kind=FaultKind.TEST,
        summary=f"{exc_type}: {message}",
        message=message,
        location=Location(path, line),
        exc_type=exc_type,
        frames=(
            TraceFrame("tests/test_app.py", 4, "test_it", "run()"),
            TraceFrame(path, line, "function", ""),
        ),
        test_ids=("tests/test_app.py::test_it",),
    )


def texts(candidates: tuple[Candidate, ...], path: str) -> list[str]:
    return [edit.after for candidate in candidates for edit in candidate.edits if edit.path == path]


def test_name_imported_from_repository(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "app/fmt.py": "def money(v):\n    return f'{v:.2f}'\n",
            "app/shop.py": '"""Shop."""\nimport math\n\n\ndef price(v):\n    return money(v)\n',
        }
    )
    request = fault("app/shop.py", 6, "NameError", "name 'money' is not defined")

    outcome = apply_rules(request, root, "offline")

    fixed = '"""Shop."""\nimport math\n\nfrom app.fmt import money\n\n\ndef price(v):\n'
    assert texts(outcome.candidates, "app/shop.py") == [fixed + "    return money(v)\n"]


def test_import_added_above_first_definition(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "app/fmt.py": "def money(v):\n    return v\n",
            "app/shop.py": "def price(v):\n    return money(v)\n",
        }
    )
    request = fault("app/shop.py", 2, "NameError", "name 'money' is not defined")

    outcome = apply_rules(request, root, "offline")

    assert texts(outcome.candidates, "app/shop.py") == [
        "from app.fmt import money\n\n\ndef price(v):\n    return money(v)\n"
    ]


def test_name_defined_twice_not_imported(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "app/a.py": "def money(v):\n    return v\n",
            "app/b.py": "def money(v):\n    return v\n",
            "app/shop.py": "def price(v):\n    return money(v)\n",
        }
    )
    request = fault("app/shop.py", 2, "NameError", "name 'money' is not defined")

    outcome = apply_rules(request, root, "offline")

    assert outcome.candidates == ()
    assert "several modules" in outcome.reasons[0]


def test_misspelled_module_fixed(make_repo: MakeRepo) -> None:
    root = make_repo({"app/tally.py": "import colections\n\nX = colections.Counter()\n"})
    request = fault("app/tally.py", 1, "ModuleNotFoundError", "No module named 'colections'")

    outcome = apply_rules(request, root, "offline")

    assert texts(outcome.candidates, "app/tally.py") == [
        "import collections\n\nX = collections.Counter()\n"
    ]


def test_unknown_module_left_alone(make_repo: MakeRepo) -> None:
    root = make_repo({"app/tally.py": "import numpyish_thing\n"})
    request = fault("app/tally.py", 1, "ModuleNotFoundError", "No module named 'numpyish_thing'")

    assert apply_rules(request, root, "offline").candidates == ()


def test_misspelled_imported_name_fixed(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "app/units.py": "def to_meters(feet):\n    return feet * 0.3048\n",
            "app/use.py": "from app.units import to_metres\n\nX = to_metres(1)\n",
        }
    )
    message = "cannot import name 'to_metres' from 'app.units' (/x/app/units.py)"
    request = fault("app/use.py", 1, "ImportError", message)

    outcome = apply_rules(request, root, "offline")

    assert texts(outcome.candidates, "app/use.py") == [
        "from app.units import to_meters\n\nX = to_meters(1)\n"
    ]


def test_extra_argument_becomes_keyword(make_repo: MakeRepo) -> None:
    source = (
        "def greet(name, *, mark):\n    return name + mark\n\n\n"
        "def hi():\n    return greet('a', '!')\n"
    )
    root = make_repo({"app/greet.py": source})
    message = "greet() takes 1 positional argument but 2 were given"
    request = fault("app/greet.py", 6, "TypeError", message)

    outcome = apply_rules(request, root, "offline")

    assert texts(outcome.candidates, "app/greet.py") == [
        source.replace("greet('a', '!')", "greet('a', mark='!')")
    ]


def test_missing_argument_passed_from_scope(make_repo: MakeRepo) -> None:
    source = (
        "def conv(a, rate):\n    return a * rate\n\n\n"
        "def all_(xs, rate):\n    return [conv(x) for x in xs]\n"
    )
    root = make_repo({"app/conv.py": source})
    message = "conv() missing 1 required positional argument: 'rate'"
    request = fault("app/conv.py", 6, "TypeError", message)

    outcome = apply_rules(request, root, "offline")

    assert texts(outcome.candidates, "app/conv.py") == [
        source.replace("conv(x)", "conv(x, rate=rate)")
    ]


def test_missing_argument_without_variable_left_alone(make_repo: MakeRepo) -> None:
    source = (
        "def conv(a, rate):\n    return a * rate\n\n\n"
        "def all_(xs):\n    return [conv(x) for x in xs]\n"
    )
    root = make_repo({"app/conv.py": source})
    message = "conv() missing 1 required positional argument: 'rate'"
    request = fault("app/conv.py", 6, "TypeError", message)

    assert apply_rules(request, root, "offline").candidates == ()


def test_misspelled_keyword_renamed(make_repo: MakeRepo) -> None:
    source = (
        "def rep(t, times=1):\n    return t * times\n\n\ndef b(t):\n    return rep(t, time=3)\n"
    )
    root = make_repo({"app/rep.py": source})
    request = fault("app/rep.py", 6, "TypeError", "rep() got an unexpected keyword argument 'time'")

    outcome = apply_rules(request, root, "offline")

    assert texts(outcome.candidates, "app/rep.py") == [source.replace("time=3", "times=3")]


def test_other_type_error_left_alone(make_repo: MakeRepo) -> None:
    root = make_repo({"app/x.py": "def f(a):\n    return a + 'x'\n"})
    message = "unsupported operand type(s) for +: 'int' and 'str'"
    request = fault("app/x.py", 2, "TypeError", message)

    assert apply_rules(request, root, "offline").candidates == ()


def test_module_global_declared(make_repo: MakeRepo) -> None:
    source = "calls = 0\n\n\ndef record():\n    calls += 1\n    return calls\n"
    root = make_repo({"app/count.py": source})
    message = "cannot access local variable 'calls' where it is not associated with a value"
    request = fault("app/count.py", 5, "UnboundLocalError", message)

    outcome = apply_rules(request, root, "offline")

    assert texts(outcome.candidates, "app/count.py") == [
        source.replace("    calls += 1", "    global calls\n    calls += 1")
    ]


def test_branch_local_initialised(make_repo: MakeRepo) -> None:
    source = (
        "def first(xs):\n    for x in xs:\n        if x:\n            found = x\n    return found\n"
    )
    root = make_repo({"app/first.py": source})
    message = "local variable 'found' referenced before assignment"
    request = fault("app/first.py", 5, "UnboundLocalError", message)

    outcome = apply_rules(request, root, "offline")

    assert texts(outcome.candidates, "app/first.py") == [
        source.replace("    for x in xs:", "    found = None\n    for x in xs:")
    ]


def test_loop_bound_moved_in(make_repo: MakeRepo) -> None:
    source = (
        "def diffs(xs):\n"
        "    out = []\n"
        "    for i in range(len(xs)):\n"
        "        out.append(xs[i + 1] - xs[i])\n"
        "    return out\n"
    )
    root = make_repo({"app/d.py": source})
    request = fault("app/d.py", 4, "IndexError", "list index out of range")

    outcome = apply_rules(request, root, "offline")

    assert source.replace("range(len(xs))", "range(len(xs) - 1)") in texts(
        outcome.candidates, "app/d.py"
    )


def test_string_key_error_left_alone(make_repo: MakeRepo) -> None:
    root = make_repo({"app/k.py": "def f(d):\n    return d['nme']\n"})
    request = fault("app/k.py", 2, "KeyError", "'nme'")

    assert apply_rules(request, root, "offline").candidates == ()
