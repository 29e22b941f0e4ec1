"""Jinja2 for playbooks: native values, lazy variables, strictness, sandbox, shell quoting."""

import shlex

import pytest

from orchestrator.templating import (
    OMIT,
    TemplatingError,
    Vars,
    drop_omitted,
    evaluate,
    is_true,
    render_text,
    template_value,
)


def test_single_expression_keeps_its_type():
    variables = Vars(({"sizes": [64, 1400], "n": 3}, True))
    assert template_value("{{ sizes }}", variables) == [64, 1400]
    assert template_value("{{ n + 1 }}", variables) == 4
    assert template_value("n={{ n }}", variables) == "n=3"
    assert template_value({"a": ["{{ n }}"]}, variables) == {"a": [3]}


def test_variables_are_templated_lazily_and_in_layers():
    variables = Vars(
        ({"app": "inventory", "unused": "{{ undefined_thing }}"}, True),
        ({"app": "netmatrix", "dest": "/opt/{{ app }}"}, True),
    )
    assert template_value("{{ dest }}", variables) == "/opt/netmatrix"  # unused never renders


def test_data_layers_are_not_templated():
    variables = Vars(({"out": {"stdout": "{{ 6 * 7 }}"}}, False))
    assert template_value("{{ out.stdout }}", variables) == "{{ 6 * 7 }}"


def test_recursive_variables_are_an_error():
    with pytest.raises(TemplatingError, match="recursive loop detected in variable 'a'"):
        template_value("{{ a }}", Vars(({"a": "{{ a }}"}, True)))


def test_undefined_is_strict():
    with pytest.raises(TemplatingError, match="'nope' is undefined"):
        template_value("x {{ nope }}", Vars())
    with pytest.raises(TemplatingError, match="has no attribute 'rc'"):
        evaluate("r.rc", Vars(({"r": {}}, False)))


def test_the_sandbox_refuses_internals():
    with pytest.raises(TemplatingError):
        evaluate("x.__class__.__mro__[1].__subclasses__()", Vars(({"x": ""}, False)))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("kernel is version('6.0', '>=')", True),
        ("kernel is version('6.2', '<')", True),
        ("'bridge' in modes", True),
        ("{{ flag }}", False),
        ("flag_text", False),
        (False, False),
        ("result is failed", True),
        ("result is changed", False),
        ("result is succeeded", False),
    ],
)
def test_conditions(condition, expected):
    variables = Vars(
        (
            {
                "kernel": "6.1.0-13-amd64",
                "modes": ["bridge"],
                "flag": False,
                "flag_text": "false",
                "result": {"failed": True, "changed": False},
            },
            False,
        )
    )
    assert is_true(condition, variables) is expected


def test_filters():
    variables = Vars(({"d": {"a": 1}, "path": "/a/b.txt", "x": "yes"}, False))
    assert template_value("{{ d | to_json }}", variables) == '{"a": 1}'
    assert template_value("{{ path | basename }}", variables) == "b.txt"
    assert template_value("{{ x | bool }}", variables) is True
    assert template_value("{{ d | combine({'b': 2}) }}", variables) == {"a": 1, "b": 2}
    assert template_value("{{ 'a-b' | regex_replace('-', '_') }}", variables) == "a_b"
    assert template_value("{{ missing | default('d') }}", variables) == "d"


def test_omit_drops_an_argument():
    args = template_value({"mode": "{{ m | default(omit) }}", "dest": "/x"}, Vars())
    assert drop_omitted(args) == {"dest": "/x"}
    assert OMIT not in drop_omitted(args).values()


def test_shell_text_quotes_every_value_as_one_word():
    canary = "$(touch /tmp/canary); `id` 'q'"
    variables = Vars(({"evil": canary, "n": 3}, True))
    text = template_value("echo {{ evil }} > {{ '/tmp/out file' }}", variables, shell=True)
    assert shlex.split(text) == ["echo", canary, ">", "/tmp/out file"]
    assert template_value(
        "echo {{ evil | quote }}", variables, shell=True
    ) == "echo " + shlex.quote(canary)  # not quoted twice
    assert template_value("{{ 'ls -l' | shell_text }} /", variables, shell=True) == "ls -l /"


def test_render_text_is_a_whole_template():
    template = "{% for s in sizes %}\nsize={{ s }}\n{% endfor %}\n"
    assert render_text(template, Vars(({"sizes": [1, 2]}, False))) == "size=1\nsize=2\n"


def test_syntax_errors_are_templating_errors():
    with pytest.raises(TemplatingError, match="template syntax error"):
        template_value("{{ x ", Vars())
