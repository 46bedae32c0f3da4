# Writes the text of INPUT into OUTPUT as a C++ raw string literal, for
# #include into an initializer (the kernel library's PTX, KernelLibrary.cpp).
file(READ "${INPUT}" text)
file(WRITE "${OUTPUT}" "R\"growc_ptx(${text})growc_ptx\"\n")
