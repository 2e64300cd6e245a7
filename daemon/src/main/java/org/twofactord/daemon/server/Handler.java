package org.twofactord.daemon.server;

import org.twofactord.daemon.auth.Caller;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.Request;

/** Carries out one command for a caller already allowed to run it. */
@FunctionalInterface
interface Handler {
    Reply handle(Caller caller, Request request) throws StoreException;
}
