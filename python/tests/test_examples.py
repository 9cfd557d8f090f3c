"""The Python examples as a user runs them (examples/python): together they hand every array over
and end on their own; either one alone gives up after its patience; and the heap's name is gone
afterwards, whichever way it went."""

import os
import pathlib
import subprocess
import sys
import time

import talc
from conftest import unique_name

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


def run(script: str, *args: str) -> subprocess.Popen:
    """The script under this interpreter, importing the talc these tests import."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(pathlib.Path(talc.__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, str(EXAMPLES / script), *args], cwd=EXAMPLES,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def shm_exists(name: str) -> bool:
    return pathlib.Path("/dev/shm", name.lstrip("/")).exists()


def test_producer_and_consumer_end_on_their_own():
    name = unique_name("example")
    for first, second in (("producer.py", "consumer.py"), ("consumer.py", "producer.py")):
        a = run(first, name, "3000", "30")
        b = run(second, name, "3000", "30")
        out_a, _ = a.communicate(timeout=60)
        out_b, _ = b.communicate(timeout=60)
        assert a.returncode == 0 and b.returncode == 0, (out_a, out_b)
        outs = out_a + out_b
        assert "producer: sent 3000 arrays" in outs and "consumer: 3000 arrays" in outs
        assert not shm_exists(name)


def test_either_alone_gives_up_and_leaves_no_name():
    name = unique_name("example")
    for script, says in (("consumer.py", "no array for 0.5 s"), ("producer.py", "not taken")):
        start = time.monotonic()
        p = run(script, name, "2000", "0.5")  # more than a ring holds: the producer waits too
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 1 and says in out, out
        assert time.monotonic() - start < 30
        assert not shm_exists(name)
