import pytest
from invoke import Exit, MockContext

from orchestrator.tasks import lab


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lab.up(MockContext(), provider="vmware"), "--provider must be one of virtualbox"),
        (lambda: lab.up(MockContext(), hosts="lab9"), "host lab9 is not in the Vagrantfile"),
        (lambda: lab.promisc(MockContext(), mode="sometimes"), "--mode must be one of allow-all"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(call, message):
    with pytest.raises(Exit) as stopped:
        call()
    assert stopped.value.code == 2
    assert message in str(stopped.value.message)
    assert "\n" not in str(stopped.value.message)
