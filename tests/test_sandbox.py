"""The one sandbox for user templates (alerting.outbound.sandbox): one list of escapes and abuses,
run against both of its users, the flow renderer and the custom-mapping renderer. Each must fail
with the user's own error, quickly (limits are checked before the work, not after), and without
showing anything of Python's insides."""
import time

import pytest
from jinja2 import ChainableUndefined, StrictUndefined

from alerting.flows import templates as flow_templates
from alerting.outbound import sandbox
from alerting.sources import SourceError, custom

FAST = 1.0  # seconds of this process's CPU: a bound, not a benchmark (a loaded machine's waits do not count)


def flow_field(template):
    """A flow step field, as steps.render_fields renders it."""
    return flow_templates.render_value(template, {"alert": {"subject": "Disk full", "properties": {"Host": "db-1"}},
                                                  "trigger": {}, "steps": {}}, "comment")


def mapping_field(template):
    """A custom mapping's subject, as the integration URL renders it."""
    return custom.parse({"title": "Disk full", "host": "db-1"}, {"subject": template})[0].subject


def failure(render, template):
    """Render ``template``; return the error text, asserting it is the user's own error, raised fast."""
    started = time.process_time()
    with pytest.raises((flow_templates.FlowTemplateError, SourceError)) as caught:
        render(template)
    spent = time.process_time() - started
    assert spent < FAST, f"{template!r} spent {spent:.2f} s of CPU before failing"
    if render is mapping_field:
        assert isinstance(caught.value, SourceError) and caught.value.field == "mapping.subject"
    else:
        assert isinstance(caught.value, flow_templates.FlowTemplateError) and str(caught.value).startswith("comment: ")
    text = str(caught.value)
    assert "<class" not in text and "root:" not in text and "Traceback" not in text
    return text


RENDERERS = pytest.mark.parametrize("render", [flow_field, mapping_field], ids=["flow", "mapping"])

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''['__class__'] }}",
    "{{ '' | attr('__class__') }}",
    "{{ [''] | map(attribute='__class__') | list }}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ '{0.__class__}'.format_map({'0': ''}) }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ range.__globals__ }}",
    "{{ dict.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('id') }}",
    "{{ cycler(1, 2).next() }}",
    "{{ joiner() }}",
    "{{ lipsum(1000000) }}",
    "{{ namespace(x=1) }}",
    "{% set ns = namespace(s='a') %}{{ ns.s }}",
    "{{ {'a': 1}.update({'a': 2}) }}",
    "{{ [1].append(2) }}",
    "{{ (1).to_bytes(100000000, 'big') }}",
    "{{ (2.5).hex() }}",
    "{{ ','.join(['a', 'b']) }}",
    "{{ 'a'.ljust(5) }}",
    "{{ 'a'.zfill(9) }}",
    "{{ 'a'.encode() }}",
    "{{ 'a'.translate({}) }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}{{ os }}",
    "{% extends '/etc/passwd' %}",
    "{{ config.items() }}",
]

# Names that do not exist: a flow raises, a mapping renders them as nothing (its configured behaviour).
NOTHING_THERE = ["{{ range.__self__ }}", "{{ lipsum.__globals__['os'] }}", "{{ request.application.__globals__ }}"]

ABUSES = [
    # huge * and **, and big-number arithmetic in general: refused from the operands' sizes
    "{{ 'a' * 1000000000 }}",
    "{{ ([1] * 1000000000) | length }}",
    "{{ 9 ** 99999999 }}",
    "{{ 2 ** 100000 }}",
    "{{ ((3 ** 4096) ** 4096) % 7 }}",
    "{{ (((9 ** 64) ** 64) ** 64) ** 64 }}",
    "{{ (10 ** 4000) * (10 ** 4000) * (10 ** 4000) }}",
    # values that grow step by step: ~, +, literals sharing a value, macros, their arguments
    "{% set a = 'x' * 100000 %}" + "{% set a = a ~ a %}" * 20 + "{{ a | length }}",
    "{% set a = 'x' * 100000 %}" + "{% set a = a + a %}" * 20 + "{{ a | length }}",
    "{% set a = [1] * 1000 %}" + "{% set a = [a, a] %}" * 30 + "{{ a == a }}",
    "{% set a = [1] * 1000 %}" + "{% set a = dict(x=a, y=a) %}" * 30 + "{{ a | length }}",
    "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s | length }}{% endmacro %}{{ d('ab', 60) }}",
    "{% macro m() %}{% for i in range(9000) %}" + "x" * 200 + "{% endfor %}{% endmacro %}{{ m() | length }}",
    "{% set t %}{% for i in range(9000) %}{{ 'y' * 200 }}{% endfor %}{% endset %}{{ t | length }}",
    # format widths, in every way of formatting
    "{{ '%999999999s' % 'a' }}",
    "{{ '%*s' % (99999, 'a') }}",
    "{{ '%.*f' % (99999, 1.5) }}",
    "{{ '%999999999s' | format('a') }}",
    "{{ '{:>999999999}'.format('a') }}",
    "{{ '{:{}}'.format('a', 99999) }}",
    "{{ ('{0}' * 300000).format('x' * 1000) }}",
    "{{ '{a}{a}'.format_map({'a': 'x' * 1000000}) }}",
    "{{ 'a' | center(1000000000) }}",
    "{{ {'a': [[[1]]]} | tojson(indent=999999999) }}",
    "{{ 'a' | indent(1000000000) }}",
    "{{ 'a b' | wordwrap(1, wrapstring='x' * 1000000) }}",
    # filters and methods whose arguments size their result
    "{{ ('a' * 100000) | replace('a', 'a' * 100000) }}",
    "{{ ('a' * 100000).replace('a', 'a' * 100000) }}",
    "{{ (['a' * 100000] * 100000) | join }}",
    "{{ ([[1]] * 100000) | sum(start=[]) }}",
    "{{ [1] | batch(1000000000, 'x') | list | length }}",
    "{{ [1] | slice(1000000000) | list | length }}",
    # loops, ranges and recursion
    "{{ range(1000000000) | length }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(5000) %}{% for j in range(5000) %}{% endfor %}{% endfor %}",
    "{% for x in [[1]] recursive %}{{ loop(x) }}{% endfor %}",
    "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}",
    "{% for i in range(100000) %}xxxxxxxxxx{% endfor %}",
    "{{ 'x' * 65537 }}",
]


@RENDERERS
@pytest.mark.parametrize("template", ESCAPES)
def test_an_escape_fails_safely(render, template):
    failure(render, template)


@pytest.mark.parametrize("template", NOTHING_THERE)
def test_what_does_not_exist_reaches_nothing(template):
    assert "undefined" in failure(flow_field, template) or "no attribute" in failure(flow_field, template)
    assert mapping_field(template + "x") == "x"


@RENDERERS
@pytest.mark.parametrize("template", ABUSES)
def test_an_abuse_fails_fast_before_the_work(render, template):
    failure(render, template)


def test_a_custom_mapping_power_tower_is_refused_before_it_is_computed():
    """Issue 14 item 16: it ran 5 s against the mapping's 1 s deadline."""
    text = failure(mapping_field, "{{ ((3**4096)**4096) % 7 }}")
    assert text == ("mapping.subject is not allowed: exponents that make a number of more than "
                    f"{sandbox.MAX_INT_BITS} bits are not allowed")


def test_a_flow_field_with_nested_powers_is_refused_before_it_is_computed():
    """Issue 14 item 16: nested powers in a flow field ran 5.7 s (one level more would take hours)."""
    text = failure(flow_field, "{{ (((9 ** 64) ** 64) ** 64) ** 64 }}")
    assert text == ("comment: not allowed in a flow template: exponents that make a number of more than "
                    f"{sandbox.MAX_INT_BITS} bits are not allowed")


ORDINARY = [
    ("{{ 'a' ~ 'b' }}|{{ [1, 2] }}|{{ (1, 2) }}|{{ {'a': 1} }}", "ab|[1, 2]|(1, 2)|{'a': 1}"),
    ("{{ '%s/%s' | format('db-1', 1) }}|{{ '{}!'.format(869000) }}|{{ '%05.1f' % 2.5 }}", "db-1/1|869000!|002.5"),
    ("[{{ '{:>5}|{:,}'.format('a', 1234567) }}]", "[    a|1,234,567]"),
    ("{{ 869000 | string }}|{{ 2 ** 100 }}|{{ (3 ** 4096) % 7 }}", "869000|1267650600228229401496703205376|4"),
    ("{{ [{'n': 'a'}, {'n': 'b'}] | map(attribute='n') | join(', ') }}", "a, b"),
    ("{{ 'Disk Full'.lower().replace('full', 'ok').split() | join('-') }}", "disk-ok"),
    ("{{ {'b': 1, 'a': 'é'} | tojson }}", '{"b": 1, "a": "é"}'),
    ("{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}", "a=1"),
    ("{% set xs = [3, 1, 2] %}{{ xs | sort | first }}{{ xs | max }}{{ range(3) | list | length }}", "133"),
    ("{{ ('x' * 65536) | length }}", "65536"),
]


@RENDERERS
@pytest.mark.parametrize("template, expected", ORDINARY)
def test_ordinary_templates_render_the_same_in_both(render, template, expected):
    assert render(template) == expected


def test_each_user_configures_the_one_sandbox_only_through_its_parameters():
    flows, mappings = flow_templates.SANDBOX, custom.SANDBOX
    assert type(flows) is type(mappings) is sandbox.Sandbox
    assert type(flows.env) is type(mappings.env)
    assert flows.env.undefined is StrictUndefined and flows.budget == flow_templates.MAX_ITERATIONS
    assert mappings.env.undefined is ChainableUndefined and mappings.budget is None
    assert flows.env.globals.keys() == mappings.env.globals.keys() == {"range", "dict"}
    assert flows.env.filters.keys() == mappings.env.filters.keys()


def test_missing_names_raise_in_a_flow_and_render_empty_in_a_mapping():
    assert "'nothing_here' is undefined" in failure(flow_field, "{{ nothing_here }}")
    assert mapping_field("{{ payload.nothing_here }}x{{ None }}") == "x"


def test_nested_loops_spend_a_flow_budget_and_are_refused_in_a_mapping():
    assert flow_field("{% for i in range(3) %}{% for j in range(3) %}{{ i * j }}{% endfor %}{% endfor %}") \
        == "000012024"
    assert "loop turns" in failure(flow_field, "{% for i in range(200) %}{% for j in range(200) %}{% endfor %}"
                                               "{% endfor %}")
    assert "inside another" in failure(mapping_field, "{% for i in range(3) %}{% for j in range(3) %}{% endfor %}"
                                                      "{% endfor %}")


def test_a_shared_deadline_stops_a_whole_mapping(monkeypatch):
    monkeypatch.setattr(custom, "RENDER_SECONDS", 0.2)
    spin = "{% macro spin() %}{% for j in range(100000) %}{% endfor %}{% endmacro %}"
    started = time.monotonic()
    mapping = {"subject": "{{ 1 }}", "message": spin + "{% for i in range(100000) %}{{ spin() }}{% endfor %}"}
    with pytest.raises(SourceError, match=r"took longer than 0\.2 s") as caught:
        custom.parse({}, mapping)
    assert caught.value.field == "mapping.message" and time.monotonic() - started < 2
