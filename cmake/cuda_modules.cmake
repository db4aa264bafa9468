# One CUDA module per CUDA major version (jax_softsplat._cuda12, jax_softsplat._cuda13), each matching
# the JAX CUDA plugin of that version. CMake enables only one CUDA compiler per build, so instead of
# enable_language(CUDA) each module's kernel is compiled by its own toolkit's nvcc in a custom command
# and linked, with that toolkit's static CUDA runtime, into an ordinary pybind11 module: importing it
# needs neither libcudart.so nor a driver.
#
# Per major version M, these cache variables locate a toolkit; each is found automatically when empty:
#   SOFTSPLAT_CUDA<M>_NVCC     nvcc of CUDA M (searched on PATH, $CUDA_HOME, /usr/local/cuda-M*)
#   SOFTSPLAT_CUDA<M>_INCLUDE  extra include directories, e.g. the runtime headers of the PyPI wheels
#   SOFTSPLAT_CUDA<M>_CUDART   libcudart_static.a (searched beside nvcc: ../lib64, ../lib, ../targets)

# SASS for A100 (sm_80) and H100 (sm_90), plus PTX of compute_90 that newer GPUs JIT-compile.
set(SOFTSPLAT_CUDA_GENCODE -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=[sm_90,compute_90])

function(_softsplat_nvcc_major nvcc out)
  execute_process(COMMAND "${nvcc}" --version OUTPUT_VARIABLE _text RESULT_VARIABLE _status ERROR_QUIET)
  set(${out} "" PARENT_SCOPE)
  if(_status EQUAL 0 AND _text MATCHES "release ([0-9]+)\\.")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  endif()
endfunction()

# Sets SOFTSPLAT_CUDA<major>_NVCC and SOFTSPLAT_CUDA<major>_CUDART, or leaves the NVCC one empty.
function(softsplat_find_cuda_toolkit major)
  set(SOFTSPLAT_CUDA${major}_NVCC "" CACHE FILEPATH "nvcc of CUDA ${major} (empty: search)")
  set(SOFTSPLAT_CUDA${major}_INCLUDE "" CACHE STRING "Extra include directories for CUDA ${major}")
  set(SOFTSPLAT_CUDA${major}_CUDART "" CACHE FILEPATH "libcudart_static.a of CUDA ${major} (empty: search)")
  set(nvcc "${SOFTSPLAT_CUDA${major}_NVCC}")
  if(nvcc)
    _softsplat_nvcc_major("${nvcc}" found)
    if(NOT found STREQUAL "${major}")
      message(FATAL_ERROR "SOFTSPLAT_CUDA${major}_NVCC=${nvcc} is not an nvcc of CUDA ${major} "
                          "(its --version says release '${found}')")
    endif()
  else()
    find_program(_on_path nvcc NO_CACHE)
    file(GLOB _installed "/usr/local/cuda-${major}*/bin/nvcc")
    set(_candidates ${_on_path} ${_installed})
    if(DEFINED ENV{CUDA_HOME})
      list(PREPEND _candidates "$ENV{CUDA_HOME}/bin/nvcc")
    endif()
    foreach(candidate IN LISTS _candidates)
      if(EXISTS "${candidate}")
        _softsplat_nvcc_major("${candidate}" found)
        if(found STREQUAL "${major}")
          set(nvcc "${candidate}")
          break()
        endif()
      endif()
    endforeach()
  endif()
  if(NOT nvcc)
    message(STATUS "CUDA ${major}: no nvcc found, jax_softsplat._cuda${major} is not built")
    set(SOFTSPLAT_CUDA${major}_NVCC "" PARENT_SCOPE)
    return()
  endif()

  set(cudart "${SOFTSPLAT_CUDA${major}_CUDART}")
  if(NOT cudart)
    # /usr/local/bin/nvcc may be a wrapper script: ask nvcc where its toolkit lies.
    execute_process(COMMAND "${nvcc}" -dryrun -c -x cu /dev/null -o /dev/null
                    OUTPUT_VARIABLE _dry ERROR_VARIABLE _dry)
    set(_top "")
    if(_dry MATCHES "#\\$ _HERE_=([^\n]*)")
      set(_top "${CMAKE_MATCH_1}")
    endif()
    get_filename_component(_bin "${nvcc}" DIRECTORY)
    find_file(_found_cudart libcudart_static.a NO_CACHE NO_DEFAULT_PATH
              PATHS "${_top}/.." "${_bin}/.." PATH_SUFFIXES lib64 lib targets/x86_64-linux/lib)
    set(cudart "${_found_cudart}")
  endif()
  if(NOT EXISTS "${cudart}")
    message(FATAL_ERROR "CUDA ${major}: nvcc ${nvcc} found but not its libcudart_static.a; "
                        "set SOFTSPLAT_CUDA${major}_CUDART")
  endif()
  message(STATUS "CUDA ${major}: ${nvcc}, ${cudart}")
  set(SOFTSPLAT_CUDA${major}_NVCC "${nvcc}" PARENT_SCOPE)
  set(SOFTSPLAT_CUDA${major}_CUDART "${cudart}" PARENT_SCOPE)
endfunction()

# jax_softsplat.<name>: cuda/module.cc (as SOFTSPLAT_MODULE_NAME=<name>) + cuda/cuda_ops.cu compiled
# by the CUDA <major> toolkit found above.
function(softsplat_cuda_module name major)
  set(source "${CMAKE_CURRENT_SOURCE_DIR}/cuda/cuda_ops.cu")
  set(object "${CMAKE_CURRENT_BINARY_DIR}/${name}_cuda_ops.o")
  set(includes "-I${CMAKE_CURRENT_SOURCE_DIR}/cuda" "-I${XLA_FFI_INCLUDE_DIR}")
  foreach(dir IN LISTS SOFTSPLAT_CUDA${major}_INCLUDE)
    list(APPEND includes "-I${dir}")
  endforeach()
  file(GLOB headers "${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.h")
  add_custom_command(
    OUTPUT "${object}"
    COMMAND "${SOFTSPLAT_CUDA${major}_NVCC}" -c "${source}" -o "${object}" -std=c++17 -O3 -DNDEBUG
            -DSOFTSPLAT_WITH_CUDA ${SOFTSPLAT_CUDA_GENCODE} -ccbin "${CMAKE_CXX_COMPILER}"
            -Xcompiler=-fPIC,-fvisibility=hidden ${includes}
    DEPENDS "${source}" ${headers}
    COMMENT "CUDA ${major}: compiling cuda_ops.cu for sm_80 and sm_90 (+ compute_90 PTX)"
    VERBATIM)
  softsplat_module(${name} "${object}")
  target_compile_definitions(${name} PRIVATE SOFTSPLAT_WITH_CUDA)
  # The static runtime's own needs: dlopen of the driver, clock_gettime, threads.
  target_link_libraries(${name} PRIVATE "${SOFTSPLAT_CUDA${major}_CUDART}" Threads::Threads ${CMAKE_DL_LIBS} rt)
endfunction()
