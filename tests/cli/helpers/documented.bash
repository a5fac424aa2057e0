# documented BIN OPTION...: each option is in BIN -h, in an .It Fl item of
# its man page, and in its bash, zsh and fish completions
documented() {
	local bin=$1 t o d=${COMPDIR:-$BATS_TEST_DIRNAME/../../completions} m=${MANDIR:-$BATS_TEST_DIRNAME/../../man}
	t=$(basename "$bin")
	shift
	for o; do
		"$bin" -h | grep -q -- "$o" || fail "$o not in $t -h"
		grep -q -- "^\.It Fl -${o#--}" "$m/$t.1" || fail "$o not in $t.1"
		grep -q -- "$o" "$d/bash/$t" || fail "$o not in the bash completion"
		grep -q -- "$o" "$d/zsh/_$t" || fail "$o not in the zsh completion"
		grep -q -- "-l ${o#--}" "$d/fish/$t.fish" || fail "$o not in the fish completion"
	done
}
