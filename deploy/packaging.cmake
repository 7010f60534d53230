#  packaging.cmake - Debian packages jadugar-controller, jadugar-agent, jadctl
#  SPDX-License-Identifier: MPL-2.0
#
#  One command builds all three (see README "Installing on servers"):
#    cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DJADUGAR_TESTS=OFF
#    cmake --build build-pkg -j2 && (cd build-pkg && cpack -G DEB)
#  Runtime Depends come from dpkg-shlibdeps (the libraries the binaries
#  really link); the daemons add what their maintainer scripts use.

include (GNUInstallDirs)
set (JAD_DEPLOY ${CMAKE_SOURCE_DIR}/deploy)
set (JAD_PKG_DIR ${CMAKE_BINARY_DIR}/package)
set (JAD_SYSTEMD_DIR lib/systemd/system)

#  Man pages, gzipped as Debian wants them.
set (JAD_MAN_PAGES jadctl.1 jadugar.yaml.5 controller.yaml.5 agent.yaml.5 jadugar-controller.8
                   jadugar-agent.8)
set (JAD_MAN_GZ)
foreach (page ${JAD_MAN_PAGES})
    add_custom_command (
        OUTPUT ${JAD_PKG_DIR}/man/${page}.gz
        COMMAND ${CMAKE_COMMAND} -E make_directory ${JAD_PKG_DIR}/man
        COMMAND gzip -9nc ${CMAKE_SOURCE_DIR}/docs/man/${page} > ${JAD_PKG_DIR}/man/${page}.gz
        DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/${page}
        COMMENT "gzip ${page}")
    list (APPEND JAD_MAN_GZ ${JAD_PKG_DIR}/man/${page}.gz)
endforeach ()
add_custom_target (jadugar-man ALL DEPENDS ${JAD_MAN_GZ})

#  Maintainer scripts and conffiles per daemon package; `template` names
#  the instances of a template unit the scripts also stop and restart
#  (a systemctl pattern such as jadugar-agent@*.service), or "".
function (jad_maintainer_scripts component package unit template data extra_dirs)
    set (JAD_PACKAGE ${package})
    set (JAD_UNIT ${unit})
    set (JAD_TEMPLATE "${template}")
    set (JAD_DATA ${data})
    set (JAD_EXTRA_DIRS ${extra_dirs})
    set (out ${JAD_PKG_DIR}/${component})
    foreach (script postinst prerm postrm)
        configure_file (${JAD_DEPLOY}/debian/${script}.in ${out}/${script} @ONLY
                        FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                                         GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
    endforeach ()
    file (WRITE ${out}/conffiles "/etc/jadugar/${component}.env\n")
    string (TOUPPER ${component} upper)
    set (CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA
         ${out}/conffiles ${out}/postinst ${out}/prerm ${out}/postrm PARENT_SCOPE)
endfunction ()
jad_maintainer_scripts (controller jadugar-controller jadugar-controller.service ""
                        /var/lib/jadugar/controller "")
jad_maintainer_scripts (agent jadugar-agent jadugar-agent.service "jadugar-agent@*.service"
                        /var/lib/jadugar/agent /srv/jadugar)

#  What each package holds (binaries are installed by their CMakeLists).
install (FILES ${JAD_DEPLOY}/systemd/jadugar-controller.service
         DESTINATION ${JAD_SYSTEMD_DIR} COMPONENT controller)
install (FILES ${JAD_DEPLOY}/debian/controller.env DESTINATION /etc/jadugar COMPONENT controller)
install (FILES ${JAD_DEPLOY}/controller.yaml
         DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/jadugar-controller/examples COMPONENT controller)
install (FILES ${JAD_PKG_DIR}/man/jadugar-controller.8.gz
         DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT controller)
install (FILES ${JAD_PKG_DIR}/man/controller.yaml.5.gz
         DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT controller)

install (FILES ${JAD_DEPLOY}/systemd/jadugar-agent.service
              ${JAD_DEPLOY}/systemd/jadugar-agent@.service
         DESTINATION ${JAD_SYSTEMD_DIR} COMPONENT agent)
install (FILES ${JAD_DEPLOY}/debian/agent.env DESTINATION /etc/jadugar COMPONENT agent)
install (FILES ${JAD_DEPLOY}/agent.yaml
         DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/jadugar-agent/examples COMPONENT agent)
install (FILES ${JAD_PKG_DIR}/man/jadugar-agent.8.gz
         DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT agent)
install (FILES ${JAD_PKG_DIR}/man/agent.yaml.5.gz
         DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT agent)

install (FILES ${JAD_DEPLOY}/jadctl.yaml
         DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/jadctl/examples COMPONENT jadctl)
install (FILES ${JAD_PKG_DIR}/man/jadctl.1.gz
         DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT jadctl)
#  the release format: release authors use jadctl
install (FILES ${JAD_PKG_DIR}/man/jadugar.yaml.5.gz
         DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT jadctl)
install (FILES ${JAD_DEPLOY}/bash-completion/jadctl
         DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT jadctl)

set (CPACK_GENERATOR DEB)
set (CPACK_PACKAGE_NAME jadugar)
set (CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set (CPACK_PACKAGE_CONTACT "Jadugar maintainers <jadugar@localhost>")
set (CPACK_PACKAGE_VENDOR "Jadugar")
set (CPACK_PACKAGING_INSTALL_PREFIX /usr)
set (CPACK_DEB_COMPONENT_INSTALL ON)
set (CPACK_COMPONENTS_ALL controller agent jadctl)
set (CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set (CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set (CPACK_DEBIAN_PACKAGE_SECTION admin)
set (CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set (CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/jadugar")
set (CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set (CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME jadugar-controller)
set (CPACK_DEBIAN_CONTROLLER_PACKAGE_DEPENDS "adduser, tzdata")
set (CPACK_DEBIAN_CONTROLLER_PACKAGE_RECOMMENDS "jadctl")
set (CPACK_COMPONENT_CONTROLLER_DESCRIPTION
     "Jadugar deployment controller\n Signs deployment plans (Ed25519), broadcasts them to agents over\n ZeroMQ with CURVE, keeps the fleet's desired state in SQLite and\n serves the operator API used by jadctl.")
set (CPACK_DEBIAN_AGENT_PACKAGE_NAME jadugar-agent)
set (CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "adduser")
set (CPACK_COMPONENT_AGENT_DESCRIPTION
     "Jadugar deployment agent\n Runs on every host: verifies signed plans, fetches and checks\n releases, switches to them atomically, runs their hooks and smoke\n tests, and rolls back on failure.")
set (CPACK_DEBIAN_JADCTL_PACKAGE_NAME jadctl)
set (CPACK_DEBIAN_JADCTL_PACKAGE_SECTION admin)
set (CPACK_COMPONENT_JADCTL_DESCRIPTION
     "Jadugar operator command line\n Drives a Jadugar controller: fleet status, releases, deploys,\n plans, rollbacks.")
include (CPack)
