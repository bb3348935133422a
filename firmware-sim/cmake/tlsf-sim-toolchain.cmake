# CMake toolchain file for tlsf-sim boards:
#
#   cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=path/to/tlsf-sim/firmware-sim/cmake/tlsf-sim-toolchain.cmake \
#         -DTLSF_SIM_BOARD=nrf52840
#
# and in CMakeLists.txt, tlsf_sim_add_firmware(app main.c more.cpp): an executable app.elf linked with the
# runtime. The flags come from `tlsf-sim flags`, so they are exactly those of `tlsf-sim build`.
#   TLSF_SIM_BOARD          board name or board JSON file (required)
#   TLSF_SIM_FLAGS_OPTIONS  more options for `tlsf-sim flags`, a list: "--libc;picolibc;--stack;8K;--no-float-io"
#   TLSF_SIM_CLI            the command that runs the CLI (default: node with this checkout's dist/cli.js, else
#                           tlsf-sim on PATH)
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

if(NOT TLSF_SIM_BOARD)
  message(FATAL_ERROR "tlsf-sim: set the board: -DTLSF_SIM_BOARD=<board name or board JSON file>")
endif()
# CMake's compiler checks configure small projects of their own with this file; they need the same settings.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TLSF_SIM_BOARD TLSF_SIM_FLAGS_OPTIONS TLSF_SIM_CLI)
# Those checks cannot link: a tlsf-sim image needs the runtime, which only tlsf_sim_add_firmware adds.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

if(NOT TLSF_SIM_CLI)
  get_filename_component(_tlsf_sim_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
  find_program(_tlsf_sim_node node)
  if(_tlsf_sim_node AND EXISTS "${_tlsf_sim_root}/dist/cli.js")
    set(TLSF_SIM_CLI "${_tlsf_sim_node};${_tlsf_sim_root}/dist/cli.js")
  else()
    find_program(TLSF_SIM_CLI tlsf-sim)
  endif()
endif()
if(NOT TLSF_SIM_CLI)
  message(FATAL_ERROR "tlsf-sim: cannot find the CLI; set -DTLSF_SIM_CLI=<command>")
endif()

function(_tlsf_sim_flags output)
  execute_process(
    COMMAND ${TLSF_SIM_CLI} flags --board ${TLSF_SIM_BOARD} ${TLSF_SIM_FLAGS_OPTIONS} ${ARGN}
    OUTPUT_VARIABLE text ERROR_VARIABLE error RESULT_VARIABLE status OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "tlsf-sim flags ${ARGN} failed: ${error}")
  endif()
  set(${output} "${text}" PARENT_SCOPE)
endfunction()

_tlsf_sim_flags(TLSF_SIM_CFLAGS --cflags)
_tlsf_sim_flags(TLSF_SIM_CXXFLAGS --cxxflags)
_tlsf_sim_flags(_tlsf_sim_ldflags --ldflags)
_tlsf_sim_flags(_tlsf_sim_c_sources --sources)
_tlsf_sim_flags(_tlsf_sim_cxx_sources --sources --cxx)

# CMake's link command repeats the compile flags, and gcc refuses the C library's specs file twice: keep
# only the link flags the compile flags do not already have.
separate_arguments(_tlsf_sim_cflags_list UNIX_COMMAND "${TLSF_SIM_CFLAGS}")
separate_arguments(_tlsf_sim_ldflags_list UNIX_COMMAND "${_tlsf_sim_ldflags}")
list(REMOVE_ITEM _tlsf_sim_ldflags_list ${_tlsf_sim_cflags_list})
list(JOIN _tlsf_sim_ldflags_list " " TLSF_SIM_LDFLAGS)
separate_arguments(TLSF_SIM_C_RUNTIME UNIX_COMMAND "${_tlsf_sim_c_sources}")
separate_arguments(TLSF_SIM_CXX_RUNTIME UNIX_COMMAND "${_tlsf_sim_cxx_sources}")

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_C_FLAGS_INIT "${TLSF_SIM_CFLAGS}")
set(CMAKE_CXX_FLAGS_INIT "${TLSF_SIM_CXXFLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${TLSF_SIM_CFLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${TLSF_SIM_LDFLAGS}")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# An executable <target>.elf from the given sources and the runtime (with its C++ part when the project
# enables C++).
function(tlsf_sim_add_firmware target)
  add_executable(${target} ${ARGN})
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if("CXX" IN_LIST languages)
    target_sources(${target} PRIVATE ${TLSF_SIM_CXX_RUNTIME})
  else()
    target_sources(${target} PRIVATE ${TLSF_SIM_C_RUNTIME})
  endif()
  set_target_properties(${target} PROPERTIES SUFFIX ".elf")
endfunction()
