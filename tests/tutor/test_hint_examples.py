"""The mechanical check an explanation's example passes before it is sent (hints/examples.py)."""

from ltt_ext.tutor.hints.examples import check_example, pick_example, shape


def test_the_learners_fix_on_the_same_shape_is_refused():
    code = 'age = 30\nprint("Age: " + age)'
    fix = 'print("Age: " + str(age))'
    # issue 10: this example handed out the fix with other names
    assert "fix's shape" in check_example(
        'years = 7\nprint("years: " + str(years))', code, [fix], code.splitlines()[1]
    )
    assert check_example('count = 3\nnote = f"{count} apples"', code, [fix], code.splitlines()[1]) is None


def test_print_hello_for_prnt_hello_is_refused():
    code = "prnt('hello')"
    assert check_example('print("hello")   # works', code, ["print('hello')"], code) is not None
    assert check_example("width = 4\narea = width * width", code, ["print('hello')"], code) is None


def test_names_strings_lines_and_statement_shapes():
    code = "numbers = [4, 5, 6]\nprint(numbers[3])"
    assert "names" in check_example("numbers = []", code, [], "print(numbers[3])")
    assert "strings" in check_example("x = 'Ada'", "name = 'Ada'", [], None)
    assert "repeats" in check_example("y = x + 20  # same line", "y = x + 20", [], None)
    assert "same shape" in check_example("planets = [1]\nprint(planets[2])", code, [], "print(numbers[3])")
    # one-letter names, builtins and conventional module names may be shared; imports reveal nothing
    assert (
        check_example(
            "import numpy as np\nfor i in range(3):\n    print(len('ab'))",
            "import numpy as np\ni = 1",
            [],
            None,
        )
        is None
    )


def test_the_fix_technique_is_refused_but_the_opposite_direction_is_fine():
    code = "guess = '7'\nif guess > 5:\n    pass"
    fixes = ["int(guess)"]
    assert check_example("reply = '12'\nprint(int(reply) + 1)", code, fixes, "if guess > 5:") is not None
    assert check_example('print("10" < "9")\nprint(10 < 9)', code, fixes, "if guess > 5:") is None


def test_broken_examples_are_checked_line_by_line():
    # syntax-error examples do not parse as a whole: each line that parses is still compared
    code = "if x > 3\n    pass"
    assert (
        check_example("while temperature > 30     # missing ':'\nif x > 3:", code, ["if x > 3:"], "if x > 3")
        is not None
    )
    assert check_example("while temperature > 30     # missing ':'", code, ["if x > 3:"], "if x > 3") is None


def test_pick_example_takes_the_first_safe_one_or_none():
    code = "point = (1, 2)\npoint[0] = 5"
    assert pick_example(
        ["point = 1", "corner = (3, 4)\nmoved = (corner[0] + 1, corner[1])"], code, [], "point[0] = 5"
    )
    assert pick_example(["coords = [1]\ncoords[0] = 9"], code, [], "point[0] = 5") is None


def test_shape_abstracts_names_and_values_but_keeps_builtins_and_attributes():
    import ast

    a = shape(ast.parse("total + str(n)").body[0])
    b = shape(ast.parse("'x' + str(count)").body[0])
    assert "str" in a and a != b  # a Name and a str constant differ
    assert shape(ast.parse("items.append(3)").body[0]) == shape(ast.parse("stack.append(9)").body[0])
