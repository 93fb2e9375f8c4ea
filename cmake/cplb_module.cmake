# Flags every cplb target gets: warnings on, and the sanitizers when CPLB_SANITIZE is set.
add_library(cplb_flags INTERFACE)
target_compile_options(cplb_flags INTERFACE -Wall -Wextra -Wpedantic
  # GCC 12 at -O3 reports `"literal" + std::string` as overlapping memcpy (PR105651).
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
target_compile_definitions(cplb_flags INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_DISABLE_BOOST_COROUTINE)
# Without the vptr check: on a cache miss it tests memory with pipe(), which fails once the
# process is out of descriptors, and the descriptor-exhaustion test then reads as type confusion.
if(CPLB_SANITIZE)
  target_compile_options(cplb_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(cplb_flags INTERFACE -fsanitize=address,undefined)
endif()

# cplb_module(NAME SOURCES... [DEPENDS targets...]): one static library per module, with the
# public headers under include/cplb/NAME.
function(cplb_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(cplb_${name} STATIC ${ARG_SOURCES})
  target_include_directories(cplb_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(cplb_${name} PUBLIC cplb_flags ${ARG_DEPENDS})
endfunction()

# cplb_unit_test(NAME SOURCES... [DEPENDS targets...]): a Catch2 test binary registered with CTest.
function(cplb_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE cplb_catch_main ${ARG_DEPENDS})
  add_test(NAME unit.${name} COMMAND ${name})
  set_tests_properties(unit.${name} PROPERTIES TIMEOUT 120 LABELS unit)
endfunction()
