#!/bin/sh
# gen-cli-doc.sh: print the per-command flag table of docs/cli.md (the part
# between "<!-- flags:begin -->" and "<!-- flags:end -->") from the built
# binary's --help texts, so that the table never disagrees with kfboot.
# Usage: scripts/gen-cli-doc.sh [KFBOOT]          (the table, on stdout)
#        scripts/gen-cli-doc.sh --update [KFBOOT] (rewrite docs/cli.md in place)
# tests/cli/test_flags.sh checks that docs/cli.md is up to date.
set -eu
update=""
if [ "${1:-}" = --update ]; then update=1; shift; fi
KFBOOT=${1:-./build/kfboot}

table() {
	echo "| command | flag | what it does |"
	echo "|---|---|---|"
	"$KFBOOT" help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}' | while read -r cmd; do
		"$KFBOOT" "$cmd" --help | awk -v cmd="$cmd" '
		function flush() {
			if (flag != "" && !(flag in seen)) {
				gsub(/\|/, "\\|", flag); gsub(/\|/, "\\|", text)
				printf "| %s | `%s` | %s |\n", cmd, flag, text
				seen[flag] = 1
			}
			flag = ""; text = ""
		}
		# Option lines: "  -x, --long ARG   text" or "  --long ARG   text";
		# deeper-indented lines after one continue its text.
		/^[ \t]+-/ {
			line = $0
			ind = match(line, /[^ \t]/)
			sub(/^[ \t]+/, "", line)
			n = index(line, "  ")
			# a flag alone on its line ("--image-map IMAGE=PREFIX"), its
			# text on the next lines; anything else without two spaces
			# (an example command line) is not a flag row
			if (line !~ /^--?[A-Za-z]/ || (n == 0 && line !~ /^--?[A-Za-z][A-Za-z0-9-]*( [A-Z][A-Z0-9_=.]*)?$/)) { flush(); next }
			flush()
			flag = n ? substr(line, 1, n - 1) : line
			text = n ? substr(line, n) : ""
			sub(/^ +/, "", text)
			col = ind
			next
		}
		flag != "" && /^[ \t]+[^ \t-]/ && match($0, /[^ \t]/) > col + 2 {
			t = $0; sub(/^[ \t]+/, "", t); text = text " " t; next
		}
		{ flush() }
		END { flush() }'
	done
}

if [ -z "$update" ]; then
	table
	exit 0
fi
doc=$(dirname "$0")/../docs/cli.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
awk -v t="$(table)" '
	/<!-- flags:begin -->/ { print; print t; skip = 1; next }
	/<!-- flags:end -->/ { skip = 0 }
	!skip { print }' "$doc" >"$tmp"
cat "$tmp" >"$doc"
