#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 supports 3.8-3.10 only).
# Order: $PYTHON, python3.10 on PATH, pyenv's versions folder, common system paths.
set -u
is310() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }
candidates=("${PYTHON:-}" "$(command -v python3.10 2>/dev/null)")
root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
for p in "$root"/versions/3.10.*/bin/python /usr/bin/python3.10 /usr/local/bin/python3.10; do candidates+=("$p"); done
for c in "${candidates[@]}"; do
  if is310 "$c"; then echo "$c"; exit 0; fi
done
cat >&2 <<'MSG'
No Python 3.10 interpreter found. Rasa Open Source 3.6 needs Python 3.10.
Install one, then run make again, for example:
  pyenv install 3.10.13            (with pyenv)
  apt-get install python3.10 python3.10-venv   (Debian/Ubuntu releases that ship it)
or point to one:  make install PYTHON=/path/to/python3.10
MSG
exit 1
