# Prints the first PTX entry whose name starts with `prefix` and whose text
# matches `pattern` (awk -v prefix=rmsnorm_ -v pattern=atom -f ...), so that
# a test finds a kernel by what it does rather than by its number.
/^\.visible \.entry / { body = ""; on = index($3, prefix) == 1 }
on { body = body $0 "\n" }
on && /^}/ { on = 0; if (body ~ pattern) { printf "%s", body; exit } }
