/**
 * What twofactord does when systemd runs it: take the listening socket systemd passes
 * ({@link SocketActivation}) and report readiness, status, shutdown and liveness over
 * {@code NOTIFY_SOCKET} ({@link SystemdNotifier}). Both read only the environment, so without
 * systemd they find nothing to do.
 */
package org.twofactord.daemon.systemd;
