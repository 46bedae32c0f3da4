# GrowcFuzz.cmake: the sanitizer build of the libFuzzer targets
# (docs/fuzzing.md), behind the option GROWC_FUZZ (OFF by default).
#
# With GROWC_FUZZ=ON every C++ file of the directories that include this file
# (and below) is compiled with AddressSanitizer, UndefinedBehaviorSanitizer
# (any report aborts: -fno-sanitize-recover=all) and libFuzzer's coverage
# instrumentation (-fsanitize=fuzzer-no-link), and every binary links the
# sanitizer runtimes; growc_add_fuzzer() adds a target that also links
# libFuzzer's main. So the runtime's GoogleTests built in the same directory
# run under ASan and UBSan as well. libMLIR.so stays uninstrumented.
#
# Included by the top-level CMakeLists and by runtime/CMakeLists.txt (for a
# standalone runtime build); the guard keeps the flags from being added
# twice. scripts/fuzz.sh configures build-fuzz/ with it.
include_guard(GLOBAL)

set(GROWC_FUZZ_REPLAY_MAIN
  ${CMAKE_CURRENT_LIST_DIR}/../runtime/fuzz/ReplayMain.cpp)

option(GROWC_FUZZ
  "Build the libFuzzer targets; compile everything with ASan and UBSan (clang)"
  OFF)

if(GROWC_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "GROWC_FUZZ needs clang's libFuzzer and sanitizers "
      "(Debian: clang-22 and libclang-rt-22-dev); configure with "
      "-DCMAKE_CXX_COMPILER=clang++-22 -DCMAKE_C_COMPILER=clang-22")
  endif()
  # -g and frame pointers: readable stacks in the sanitizers' reports. C
  # files (CMake's own checks) are left alone: the C compiler may differ.
  add_compile_options(
    "$<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined;-fno-sanitize-recover=all;-fsanitize=fuzzer-no-link;-fno-omit-frame-pointer;-g>")
  add_link_options(-fsanitize=address,undefined)
  # Shared libraries (the test kernels, the fake CUDA driver) leave the
  # sanitizer and coverage symbols to the executable that loads them; LLVM's
  # options link them with -z defs, which would refuse that.
  add_link_options(
    "$<$<IN_LIST:$<TARGET_PROPERTY:TYPE>,SHARED_LIBRARY;MODULE_LIBRARY>:LINKER:-z,undefs>")
endif()

# growc_add_fuzzer(<name> SOURCES <files> LIBS <libraries>): the libFuzzer
# binary <name> (GROWC_FUZZ=ON), else its replayer of the same name.
function(growc_add_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(GROWC_FUZZ)
    add_executable(${name} ${ARG_SOURCES})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${ARG_SOURCES} ${GROWC_FUZZ_REPLAY_MAIN})
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
endfunction()
