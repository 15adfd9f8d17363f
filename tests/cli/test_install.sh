#!/usr/bin/env bash
# test_install.sh: kfboot installs like a real tool. `cmake --install` of the
# build tree into a temporary prefix gives bin/kfboot (whose `version` names
# the git commit it was built from), man pages that render (kfboot(1) and one
# per command, e.g. kfboot-apply(1)), bash and zsh completion files equal to
# `kfboot completion bash|zsh`, and the docs. The bash completion is driven
# as bash drives it (COMP_WORDS/COMP_CWORD, then COMPREPLY is checked).
# Env (set by ctest): KFBOOT, KF_SOURCE_DIR, KF_BUILD_DIR.
set -euo pipefail
: "${KFBOOT:?}" "${KF_SOURCE_DIR:?}" "${KF_BUILD_DIR:?}"

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v man >/dev/null || { echo "SKIP: man not installed (apt-get install man-db)"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kfboot-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
p=$tmp/prefix

cmake --install "$KF_BUILD_DIR" --prefix "$p" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install failed"; }

# 1. The binary, and the commit it was built from.
[ -x "$p/bin/kfboot" ] || fail "no bin/kfboot"
v=$("$p/bin/kfboot" version | head -1)
if git -C "$KF_SOURCE_DIR" rev-parse HEAD >/dev/null 2>&1; then
	head=$(git -C "$KF_SOURCE_DIR" rev-parse --short=12 HEAD)
	[[ $v == *"(commit $head"* ]] || fail "version does not name commit $head: $v"
fi
grep -q '"commit"' <<<"$("$p/bin/kfboot" -o json version)" || fail "version -o json has no commit"

# 2. Man pages: kfboot(1) and one page per command, rendering cleanly.
for page in kfboot kfboot-apply kfboot-validate kfboot-completion; do
	[ -f "$p/share/man/man1/$page.1" ] || fail "no man page $page.1"
	out=$(MANPATH=$p/share/man MANWIDTH=100 man -P cat "$page" 2>"$tmp/man.err") ||
		fail "man $page failed: $(cat "$tmp/man.err")"
	grep -q "^NAME" <<<"$out" || fail "man $page: no NAME section"
done
for c in $("$p/bin/kfboot" help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}'); do
	[ -f "$p/share/man/man1/kfboot-$c.1" ] || fail "no man page for command $c"
done
page=$(MANPATH=$p/share/man MANWIDTH=100 man -P cat kfboot-apply)
grep -q -- "--prune" <<<"$page" ||
	fail "man kfboot-apply does not show apply's flags"

# 3. Completion files: what `kfboot completion` prints.
bashc=$p/share/bash-completion/completions/kfboot
zshc=$p/share/zsh/site-functions/_kfboot
cmp -s "$bashc" <("$p/bin/kfboot" completion bash) || fail "installed bash completion differs"
cmp -s "$zshc" <("$p/bin/kfboot" completion zsh) || fail "installed zsh completion differs"
if command -v zsh >/dev/null; then zsh -n "$zshc" || fail "zsh completion has a syntax error"; fi

# 4. Bash completion completes commands, subcommands and flags.
complete_words() { # words... (the last one is being completed)
	PATH=$p/bin:$PATH bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
		_kfboot
		printf "%s\n" "${COMPREPLY[@]}"' _ "$bashc" "$@"
}
offers() { # word, then the words being completed (no pipe: grep -q would
	# end the pipe early, and pipefail would count that as a failure)
	local want=$1 got
	shift
	got=$(complete_words "$@")
	grep -qx -- "$want" <<<"$got"
}
offers apply kfboot ap || fail "kfboot ap<TAB> does not offer apply"
offers validate kfboot va || fail "kfboot va<TAB> does not offer validate"
offers --prune kfboot apply --pr || fail "apply --pr<TAB> does not offer --prune"
offers --force-prune kfboot apply --pr && fail "apply --pr<TAB> offers --force-prune"
offers install kfboot kubeflow "" || fail "kubeflow <TAB> does not offer install"
offers json kfboot -o "" || fail "-o <TAB> does not offer json"
offers up kfboot help up || fail "help up<TAB> does not offer up"

# 5. Docs.
[ -f "$p/share/doc/kfboot/README.md" ] || fail "no README in share/doc/kfboot"
[ -f "$p/share/doc/kfboot/user-guide.md" ] || fail "no user guide in share/doc/kfboot"
echo "install: ok (bin, man pages, completion, docs)"
