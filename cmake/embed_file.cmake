# cmake -DINPUT=file -DOUTPUT=file.cpp -DNAMESPACE=ns -DSYMBOL=name -P embed_file.cmake
# Writes a C++ file defining `const unsigned char NAMESPACE::SYMBOL[]` with INPUT's bytes and
# `SYMBOL_size`, so a binary (a compiled BPF object) ships inside the executable.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by cmake/embed_file.cmake.\n#include <cstddef>\n\n"
  "namespace ${NAMESPACE} {\n"
  "extern const unsigned char ${SYMBOL}[] = {${bytes}};\n"
  "extern const std::size_t ${SYMBOL}_size = sizeof(${SYMBOL});\n"
  "}  // namespace ${NAMESPACE}\n")
