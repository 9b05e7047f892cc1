#!/usr/bin/env bash
# A shell step: no library, just lines in the `::pipetrack` protocol that
# `pipetrack run` turns into tasks, messages and progress.
set -euo pipefail

echo "::pipetrack total 2"
echo "::pipetrack task-enter Check free disk space"
df -P . | tail -n 1
echo "::pipetrack task-exit"

echo "::pipetrack task-enter Check input folders"
n=0
for dir in raw staging output; do
    n=$((n + 1))
    echo "::pipetrack message checking $dir"
    echo "::pipetrack progress $n 3"
done
echo "::pipetrack task-exit"
