# Install rules for `cmake --install`: the tools, the public headers in the
# source tree's layout, every compiler library, and a CMake package
# (GrowcConfig.cmake + exported targets) so that an out-of-tree project can
# find_package(Growc) and link growc's dialects and passes
# (test/Install/consumer is such a project).
#
# Included by the top-level CMakeLists.txt after every subdirectory, so the
# libraries are found by walking the directories that define them: a new
# library under dialects/, passes/ or lib/ is installed and exported with no
# list to keep in step.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(GROWC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Growc)

# Appends to `out` every target of `kind` (a regex on the TYPE property)
# defined in `dir` or below it, except those a plain build does not build
# (EXCLUDE_FROM_ALL), which an install could not find.
function(growc_targets_below dir kind out)
  set(found)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    get_target_property(excluded ${target} EXCLUDE_FROM_ALL)
    if(type MATCHES "${kind}" AND NOT excluded)
      list(APPEND found ${target})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir IN LISTS subdirs)
    growc_targets_below(${subdir} "${kind}" below)
    list(APPEND found ${below})
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

#===------------------------------------------------------------------------===#
# Libraries
#===------------------------------------------------------------------------===#

set(growc_library_kinds "^(STATIC|SHARED|OBJECT|INTERFACE)_LIBRARY$")
set(growc_roots)
foreach(dir dialects passes lib)
  growc_targets_below(${PROJECT_SOURCE_DIR}/${dir} "${growc_library_kinds}"
    libs)
  list(APPEND growc_roots ${libs})
endforeach()

# An exported library's link dependencies must be exported too: follow them
# to the tree's other libraries (the runtime's file formats, which
# GrowcGrowth links). Imported targets (MLIR, LLVM) come from their own
# packages, which GrowcConfig.cmake finds.
set(GROWC_INSTALLED_LIBRARIES)
set(GROWC_IMPORTED_DEPENDENCIES)
set(queue ${growc_roots})
while(queue)
  list(POP_FRONT queue target)
  if(target IN_LIST GROWC_INSTALLED_LIBRARIES)
    continue()
  endif()
  list(APPEND GROWC_INSTALLED_LIBRARIES ${target})
  set(deps)
  foreach(property LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(items ${target} ${property})
    if(items)
      list(APPEND deps ${items})
    endif()
  endforeach()
  foreach(dep IN LISTS deps)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
    if(NOT TARGET ${dep})
      continue()
    endif()
    get_target_property(imported ${dep} IMPORTED)
    if(imported)
      if(NOT dep IN_LIST GROWC_IMPORTED_DEPENDENCIES)
        list(APPEND GROWC_IMPORTED_DEPENDENCIES ${dep})
      endif()
    else()
      list(APPEND queue ${dep})
    endif()
  endforeach()
endwhile()

# GrowcConfig.cmake finds MLIR and LLVM (and with them their targets);
# anything else imported would need a find_dependency there first.
set(GROWC_UNHANDLED_DEPENDENCIES ${GROWC_IMPORTED_DEPENDENCIES})
list(REMOVE_ITEM GROWC_UNHANDLED_DEPENDENCIES MLIR LLVM Threads::Threads)
if(GROWC_UNHANDLED_DEPENDENCIES)
  message(WARNING "growc install: the exported libraries link "
    "${GROWC_UNHANDLED_DEPENDENCIES}, which cmake/GrowcConfig.cmake.in does "
    "not find; add a find_dependency for it there")
endif()
if("Threads::Threads" IN_LIST GROWC_IMPORTED_DEPENDENCIES)
  set(GROWC_NEEDS_THREADS ON)
else()
  set(GROWC_NEEDS_THREADS OFF)
endif()

# In the build, includes come from directory properties (include_directories
# at the top level) and the runtime's BUILD_INTERFACE; installed, everything
# is under one include directory.
foreach(target IN LISTS GROWC_INSTALLED_LIBRARIES)
  target_include_directories(${target} INTERFACE
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()

install(TARGETS ${GROWC_INSTALLED_LIBRARIES} EXPORT GrowcTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT GrowcTargets NAMESPACE Growc::
  DESTINATION ${GROWC_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/GrowcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/GrowcConfig.cmake
  INSTALL_DESTINATION ${GROWC_INSTALL_CMAKEDIR})
install(FILES ${PROJECT_BINARY_DIR}/cmake/GrowcConfig.cmake
  DESTINATION ${GROWC_INSTALL_CMAKEDIR})

# growc's version, for find_package(Growc 0.14): cmake/GrowcVersion.cmake
# guards itself, so when the runtime has included it already this only
# reads GROWC_VERSION.
if(EXISTS ${PROJECT_SOURCE_DIR}/cmake/GrowcVersion.cmake)
  include(${PROJECT_SOURCE_DIR}/cmake/GrowcVersion.cmake)
  write_basic_package_version_file(
    ${PROJECT_BINARY_DIR}/cmake/GrowcConfigVersion.cmake
    VERSION ${GROWC_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/cmake/GrowcConfigVersion.cmake
    DESTINATION ${GROWC_INSTALL_CMAKEDIR})
endif()

#===------------------------------------------------------------------------===#
# Tools
#===------------------------------------------------------------------------===#

# Every tool under tools/, and the runtime's command line.
growc_targets_below(${PROJECT_SOURCE_DIR}/tools "^EXECUTABLE$" growc_tools)
if(TARGET growc-run)
  list(APPEND growc_tools growc-run)
endif()
# Installed tools keep finding libMLIR.so / libLLVM.so where they were
# linked from (an LLVM prefix that is not on the loader's default path).
set_target_properties(${growc_tools} PROPERTIES
  INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS ${growc_tools} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

#===------------------------------------------------------------------------===#
# Headers
#===------------------------------------------------------------------------===#

# Consumers include growc's headers as growc itself does, relative to the
# source root ("dialects/Grow/GrowOps.h", "passes/Growth/Passes.h",
# "growc/InitAll.h", "growc/runtime/...") and to the build root for the
# generated ones ("passes/Growth/Passes.h.inc"): one include directory with
# both layouts merged.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/
                  ${PROJECT_SOURCE_DIR}/runtime/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dialects ${PROJECT_SOURCE_DIR}/passes
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
install(DIRECTORY ${PROJECT_BINARY_DIR}/dialects ${PROJECT_BINARY_DIR}/passes
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h.inc"
  PATTERN "CMakeFiles" EXCLUDE)
