# Runs at install time (from packaging/CMakeLists.txt's install(CODE)), when the prefix is
# final: `cmake --install --prefix P`, `make install PREFIX=P`, or CPack staging (prefix /usr).
#
# Inputs: VIRTNAT_UNIT_SOURCE, VIRTNAT_UNIT_BUILT, VIRTNAT_UNIT_DIR, VIRTNAT_SBINDIR,
#         VIRTNAT_CONFIG_EXAMPLE, VIRTNAT_CONFIG_DIR (may be empty). CMAKE_INSTALL_PREFIX and
#         $ENV{DESTDIR} as cmake_install.cmake sets them.

set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" prefix "${prefix}")  # "/" -> ""

# The unit: ExecStartPre/ExecStart name the installed binary.
if(IS_ABSOLUTE "${VIRTNAT_SBINDIR}")
  set(binary "${VIRTNAT_SBINDIR}/virtnat")
else()
  set(binary "${prefix}/${VIRTNAT_SBINDIR}/virtnat")
endif()
file(READ "${VIRTNAT_UNIT_SOURCE}" unit)
string(REGEX REPLACE "/[^ \n]*/sbin/virtnat( |\n)" "${binary}\\1" unit "${unit}")
file(WRITE "${VIRTNAT_UNIT_BUILT}" "${unit}")
if(IS_ABSOLUTE "${VIRTNAT_UNIT_DIR}")
  set(unit_dir "${VIRTNAT_UNIT_DIR}")
else()
  set(unit_dir "${prefix}/${VIRTNAT_UNIT_DIR}")
endif()
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${VIRTNAT_UNIT_BUILT}")

# The config: the example, unless a config is there already (never overwritten).
if(VIRTNAT_CONFIG_DIR)
  set(config_dir "${VIRTNAT_CONFIG_DIR}")
elseif(prefix STREQUAL "" OR prefix STREQUAL "/usr" OR prefix STREQUAL "/usr/local")
  set(config_dir "/etc/virtnat")  # where virtnat looks by default
else()
  set(config_dir "${prefix}/etc/virtnat")
endif()
set(config "$ENV{DESTDIR}${config_dir}/virtnat.toml")
if(EXISTS "${config}" OR IS_SYMLINK "${config}")
  message(STATUS "Kept: ${config} (an existing config is never overwritten; the example is in "
                 "share/doc/virtnat/examples)")
else()
  file(INSTALL DESTINATION "${config_dir}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "${VIRTNAT_CONFIG_EXAMPLE}")
endif()
