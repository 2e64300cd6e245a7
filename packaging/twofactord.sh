#!/bin/sh
# /usr/bin/twofactord: runs the daemon and its command line from /usr/share/twofactord.
#
# The JVM flags keep the footprint small; twofactord.service sets the same ones through
# TWOFACTORD_JAVA_OPTS and explains each there (packaging/test-units.sh checks they agree).
# Set TWOFACTORD_JAVA_OPTS to replace them, JAVA_HOME to use another Java 17 or later.
# `exec` keeps the process id: systemd's LISTEN_PID and NOTIFY_SOCKET must find the JVM itself.
exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" \
    ${TWOFACTORD_JAVA_OPTS:--Xms16m -Xmx128m -Xmn4m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=32m -XX:MaxMetaspaceSize=64m -Xss512k -XX:-UsePerfData -XX:+ExitOnOutOfMemoryError} \
    -jar /usr/share/twofactord/twofactord.jar "$@"
