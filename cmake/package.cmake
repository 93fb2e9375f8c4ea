# Debian package of cplb with CPack: `cpack -G DEB` in a build directory (scripts/package does a
# Release build and runs it). Contents: /usr/sbin/cplb, /etc/cplb/cplb.yaml (a conffile), the
# systemd unit in /lib/systemd/system; maintainer scripts in packaging/.

set(CPLB_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

# Absolute destinations: the package installs under /, whatever CMAKE_INSTALL_PREFIX is (/usr).
install(FILES ${PROJECT_SOURCE_DIR}/conf/cplb.yaml DESTINATION /etc/cplb)
install(FILES ${PROJECT_SOURCE_DIR}/conf/cplb.service DESTINATION /lib/systemd/system)
install(FILES ${CPLB_PACKAGING_DIR}/lintian-overrides DESTINATION share/lintian/overrides
        RENAME cplb)
install(FILES ${CPLB_PACKAGING_DIR}/copyright DESTINATION share/doc/cplb)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cplb)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR cplb)
set(CPACK_PACKAGE_CONTACT "cplb maintainers <cplb@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "TCP load balancer and VRRP virtual IP for Kubernetes apiservers")
set(CPACK_PACKAGE_DESCRIPTION
    "cplb is one daemon in front of the kube-apiservers of a kubeadm cluster:\n\
a TCP proxy with TLS health checks and a VRRP virtual IP, what HAProxy and\n\
keepalived usually do together. The service is not started on install:\n\
edit /etc/cplb/cplb.yaml first, then systemctl enable --now cplb.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_SET_DESTDIR OFF)
# /etc/cplb and /lib/systemd/system are absolute install destinations on purpose.
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # cplb_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/cplb")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst creates the user with adduser; merged with the shared-library dependencies.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CPLB_PACKAGING_DIR}/conffiles ${CPLB_PACKAGING_DIR}/postinst
    ${CPLB_PACKAGING_DIR}/prerm ${CPLB_PACKAGING_DIR}/postrm)

# A native package's changelog.gz (lintian: no-changelog). The date honours SOURCE_DATE_EPOCH;
# gzip -n leaves the name and time out, so the file is reproducible.
string(TIMESTAMP CPLB_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${CPLB_PACKAGING_DIR}/changelog.in ${PROJECT_BINARY_DIR}/packaging/changelog @ONLY)
execute_process(COMMAND gzip -9nf ${PROJECT_BINARY_DIR}/packaging/changelog COMMAND_ERROR_IS_FATAL ANY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/changelog.gz DESTINATION share/doc/cplb)

include(CPack)
