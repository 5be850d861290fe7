#!/usr/bin/env python3
"""Summarises a `cargo test` log: each test binary's result line, then each
of its failed tests with where it panicked and the first lines of the
message (of the test's last panic, the one that failed it: earlier ones may
be panics the test provokes on purpose; "a scoped thread panicked" is passed
over for the thread's own panic).

usage: failures.py LOG
"""
import re
import sys

text = open(sys.argv[1], errors="replace").read()
# One block per test binary, from its "Running" line to the next.
blocks = re.split(r"^\s*Running ", text, flags=re.M)[1:]
for block in blocks:
    binary = block.split(None, 1)[0]
    result = re.search(r"^test result: .*$", block, re.M)
    print(f"  {binary}: {result.group(0) if result else 'no result (crashed or killed?)'}")
    sections = re.finditer(
        r"^---- (\S+) stdout ----\n(.*?)(?=^---- |^failures:$|\Z)", block, re.S | re.M
    )
    for section in sections:
        name, lines = section.group(1), section.group(2).splitlines()
        reason = ["(no panic message found)"]
        for i, line in enumerate(lines):
            # A scope or join re-raising a thread's panic says nothing new.
            if " panicked at " in line and "a scoped thread panicked" not in lines[i + 1 : i + 2]:
                where = line.split(" panicked at ", 1)[1].rstrip(":")
                message = [
                    l.strip()
                    for l in lines[i + 1 : i + 4]
                    if l.strip()
                    and not l.startswith(("stack backtrace:", "note: ", "   0:"))
                ]
                reason = [where] + message[:2]
        print(f"    FAILED {name}: {' | '.join(reason)[:300]}")
