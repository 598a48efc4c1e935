"""The build's stage table: CPU of child processes counted, the install read from make's file."""

import subprocess
import sys
import time

import pandas as pd
import pytest

from thinking_sparks.runs.stages import Stage, StageClock, install_stage, markdown, parse_times


def test_a_stage_counts_the_cpu_of_its_child_processes():
    clock = StageClock()
    with clock.stage("child"):
        subprocess.run([sys.executable, "-c", "import time\nt = time.process_time()\n"
                        "while time.process_time() - t < 0.4: pass"], check=True)
    with clock.stage("sleep"):
        time.sleep(0.3)
    child, sleep = clock.stages
    assert child.cpu >= 0.35 and child.wall >= 0.4  # the child's busy loop, not only this process
    assert sleep.wall >= 0.3 and sleep.cpu < 0.1 and sleep.cores < 0.34
    table = clock.table()
    assert list(table.stage) == ["child", "sleep", "total"]
    assert table.wall_s.iloc[-1] == pytest.approx(child.wall + sleep.wall)


def test_parts_are_not_counted_twice_and_missing_cpu_shows_a_dash():
    clock = StageClock([Stage("zoo", 100.0, 190.0), Stage("  └ base", 60.0, 60.0), Stage("page", 10.0, None)])
    table = clock.table()
    total = table.iloc[-1]
    assert total.wall_s == 110.0 and pd.isna(total.cpu_s)  # the part is inside "zoo"; a stage lacks CPU
    lines = markdown(table)
    assert lines[2] == "| zoo | 100 | 190 | 1.9 |" and lines[4] == "| page | 10 | - | - |"


def test_bash_times_output_is_parsed():
    assert parse_times("0m0.004s 0m0.000s\n1m2.500s 0m0.250s\n") == pytest.approx(62.75)
    assert parse_times("0m0.000000s 0m0.000000s\n0m0.200000s 0m0.050000s") == pytest.approx(0.25)  # dash
    with pytest.raises(ValueError, match="times"):
        parse_times("12.3")


def test_the_install_is_a_stage_only_when_this_make_ran_it(tmp_path):
    (tmp_path / ".install-times").write_text("1000.5 1090.5\n0m0.01s 0m0.00s\n1m10.00s 0m5.00s\n")
    stage = install_stage(tmp_path, "1000")
    assert stage.wall == pytest.approx(90.0) and stage.cpu == pytest.approx(75.0)
    assert install_stage(tmp_path, "2000") is None  # installed by an earlier make: a warm build
    assert install_stage(tmp_path, "") is None  # not started by make
    (tmp_path / ".install-times").write_text("garbage\n")
    assert install_stage(tmp_path, "1000") is None
