# bash completion for kfboot                                 -*- shell-script -*-
# Installed as share/bash-completion/completions/kfboot; `kfboot completion
# bash` prints the same text. Commands, subcommands and flags are read from
# kfboot's own `help` and `<command> --help`, so completion never disagrees
# with the binary it completes.

_kfboot_commands() {
	"$1" help 2>/dev/null | awk '/^Commands:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }'
}

# Flags of one command: every -x / --long-name that starts an option line of
# its --help text (or follows "usage: ... [").
_kfboot_flags() {
	"$1" "$2" --help 2>/dev/null |
		grep -oE -- '(^|[[:space:][,|])--?[A-Za-z][A-Za-z0-9-]*' |
		sed -E 's/^[[:space:][,|]+//' | sort -u
}

# Subcommands: the literal word after "kfboot <command>" on usage lines.
_kfboot_subcommands() {
	"$1" "$2" --help 2>/dev/null |
		sed -nE "s/^(usage:)?[[:space:]]*kfboot $2 ([a-z][a-z-]+)( .*)?\$/\\2/p" | sort -u
}

_kfboot() {
	local bin=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=""
	local cmd="" sub="" i w
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-o | --output) ((i++)) ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=$w; elif [ -z "$sub" ]; then sub=$w; fi ;;
		esac
	done
	case $prev in
	-o | --output)
		mapfile -t COMPREPLY < <(compgen -W "text json yaml wide" -- "$cur")
		return ;;
	-f | --filename | --file | --kubeconfig | --password-file | --webhook-secret-file | --catalog | --out)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--state-dir | --cache-dir | --source)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return ;;
	esac
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-v --verbose -q --quiet -o --output --no-color -h --help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_kfboot_commands "$bin")" -- "$cur")
		fi
		return
	fi
	if [ "$cmd" = help ]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_kfboot_commands "$bin")" -- "$cur")
		return
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_kfboot_flags "$bin" "$cmd") -h --help" -- "$cur")
		return
	fi
	local subs
	subs=$(_kfboot_subcommands "$bin" "$cmd")
	if [ -z "$sub" ] && [ -n "$subs" ]; then
		mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
		return
	fi
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _kfboot kfboot
