# glyph_torch_link_dirs(TARGET PREFIX): the torch wheel's CUDA libraries need NCCL, cuDNN, ... from
# the nvidia-* wheels beside it. They resolve at run time through libtorch's own RPATH; executables
# linking glyph_vlm need the same folders at link time (shared modules do not check). Used by the
# build (PREFIX: the build's torch) and by the installed package config (the consumer's torch), so
# no torch path of the build machine is exported.
function(glyph_torch_link_dirs target prefix)
  file(GLOB _dirs LIST_DIRECTORIES true "${prefix}/../nvidia/*/lib" "${prefix}/../nvidia/cu*/lib")
  foreach(_dir ${_dirs})
    set_property(TARGET ${target} APPEND PROPERTY INTERFACE_LINK_OPTIONS "LINKER:-rpath-link,${_dir}")
  endforeach()
endfunction()
