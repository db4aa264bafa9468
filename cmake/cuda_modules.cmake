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

# ---- CUDA 12 from PyPI packages, without nvcc -----------------------------------------------------
# PyPI has no nvcc of CUDA 12 (nvidia-cuda-nvcc-cu12 holds ptxas and the crt/ headers only), so
# jax_softsplat._cuda12 is made of packages pyproject's [build-system] requires pins:
#   nvidia-cuda-nvrtc-cu12 (12.0: PTX ISA 8.0, which every CUDA 12 driver can JIT-compile) compiles
#     cuda/cuda_kernels.cuh to compute_80 and compute_90 PTX, and names its kernels;
#   ptxas of nvidia-cuda-nvcc-cu12 (12.9) assembles the sm_80 and sm_90 cubins from that PTX;
#   nvidia-nvfatbin-cu12 packs the cubins and the compute_90 PTX into a fatbin
#     (cmake/nvrtc_device_code.py runs all three, and caches the result under the hash of its inputs);
#   nvidia-cuda-runtime-cu12 (12.9, the first with libcudart_static.a) and the crt/ headers of
#     nvidia-cuda-nvcc-cu12 compile the host half, cuda_ops.cu, which loads the fatbin with
#     cudaLibraryLoadData and launches its kernels by name (cuda/cuda_ops_by_name.cc).
# The device code does not depend on the Python the wheel is for, so the build of each Python reuses
# the first one's from SOFTSPLAT_DEVICE_CODE_CACHE.
set(SOFTSPLAT_DEVICE_CODE_CACHE "${CMAKE_CURRENT_SOURCE_DIR}/build/device-code-cache"
    CACHE PATH "Where the NVRTC device code of _cuda12 is kept between builds")

# Sets SOFTSPLAT_CUDA12_NVRTC_FOUND and the paths it needs, from the packages the build's Python
# imports.
function(softsplat_find_cuda12_packages)
  set(SOFTSPLAT_CUDA12_NVRTC_FOUND FALSE PARENT_SCOPE)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import importlib.util as u
names = ('nvidia.cuda_nvrtc', 'nvidia.nvfatbin', 'nvidia.cuda_runtime', 'nvidia.cuda_nvcc')
specs = [u.find_spec(n) if u.find_spec('nvidia') else None for n in names]
print('|'.join(list(s.submodule_search_locations)[0] if s else '' for s in specs))"
    OUTPUT_VARIABLE _dirs OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _status)
  if(NOT _status EQUAL 0)
    set(_dirs "|||")
  endif()
  # One entry per package, empty where it is missing.
  string(REPLACE "|" ";" _dirs "${_dirs}")
  list(GET _dirs 0 _nvrtc)
  list(GET _dirs 1 _nvfatbin)
  list(GET _dirs 2 _runtime)
  list(GET _dirs 3 _nvcc)
  set(_files "${_nvrtc}/lib/libnvrtc.so.12" "${_nvfatbin}/lib/libnvfatbin.so.12"
             "${_runtime}/include/cuda_runtime_api.h" "${_runtime}/lib/libcudart_static.a"
             "${_nvcc}/include/crt/host_defines.h" "${_nvcc}/bin/ptxas")
  set(_missing "")
  foreach(_file IN LISTS _files)
    if(NOT EXISTS "${_file}")
      list(APPEND _missing "${_file}")
    endif()
  endforeach()
  if(_missing)
    message(STATUS "CUDA 12: the PyPI packages nvidia-cuda-nvrtc-cu12, nvidia-nvfatbin-cu12, "
                   "nvidia-cuda-runtime-cu12 and nvidia-cuda-nvcc-cu12 are not all importable by "
                   "${Python_EXECUTABLE} (missing: ${_missing})")
    return()
  endif()
  set(SOFTSPLAT_CUDA12_NVRTC_FOUND TRUE PARENT_SCOPE)
  set(SOFTSPLAT_CUDA12_NVRTC_LIB "${_nvrtc}/lib/libnvrtc.so.12" PARENT_SCOPE)
  set(SOFTSPLAT_CUDA12_NVFATBIN_LIB "${_nvfatbin}/lib/libnvfatbin.so.12" PARENT_SCOPE)
  set(SOFTSPLAT_CUDA12_PTXAS "${_nvcc}/bin/ptxas" PARENT_SCOPE)
  set(SOFTSPLAT_CUDA12_RUNTIME_INCLUDE "${_runtime}/include" "${_nvcc}/include" PARENT_SCOPE)
  set(SOFTSPLAT_CUDA12_RUNTIME_STATIC "${_runtime}/lib/libcudart_static.a" PARENT_SCOPE)
  message(STATUS "CUDA 12: NVRTC ${_nvrtc}, nvFatbin ${_nvfatbin}, runtime ${_runtime}")
endfunction()

# jax_softsplat.<name>: cuda/module.cc + the host half (cuda/cuda_ops_by_name.cc) + the generated
# fatbin and kernel names, with the CUDA 12 runtime linked statically.
function(softsplat_nvrtc_cuda_module name)
  set(generated "${CMAKE_CURRENT_BINARY_DIR}/${name}_device_code.cc")
  file(GLOB device_sources "${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.h" "${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.cuh"
       "${CMAKE_CURRENT_SOURCE_DIR}/cuda/nvrtc/*")
  set(script "${CMAKE_CURRENT_SOURCE_DIR}/cmake/nvrtc_device_code.py")
  add_custom_command(
    OUTPUT "${generated}"
    COMMAND "${Python_EXECUTABLE}" "${script}" --nvrtc "${SOFTSPLAT_CUDA12_NVRTC_LIB}"
            --nvfatbin "${SOFTSPLAT_CUDA12_NVFATBIN_LIB}" --ptxas "${SOFTSPLAT_CUDA12_PTXAS}" --cuda-dir "${CMAKE_CURRENT_SOURCE_DIR}/cuda"
            --cache "${SOFTSPLAT_DEVICE_CODE_CACHE}" --out "${generated}"
    DEPENDS "${script}" ${device_sources}
    COMMENT "CUDA 12: NVRTC + ptxas device code of cuda_kernels.cuh (sm_80, sm_90, compute_90 PTX)"
    VERBATIM)
  softsplat_module(${name} cuda/cuda_ops_by_name.cc "${generated}")
  target_compile_definitions(${name} PRIVATE SOFTSPLAT_WITH_CUDA SOFTSPLAT_KERNELS_BY_NAME)
  target_include_directories(${name} SYSTEM PRIVATE ${SOFTSPLAT_CUDA12_RUNTIME_INCLUDE})
  target_link_libraries(${name} PRIVATE "${SOFTSPLAT_CUDA12_RUNTIME_STATIC}" Threads::Threads
                                        ${CMAKE_DL_LIBS} rt)
endfunction()
