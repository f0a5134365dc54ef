import Logging
import NIOCore
import WardenCore
import WardenMQTT

/// CONNECT: authenticate, take up the session, answer CONNACK (issue 3, "Authentication at CONNECT").
extension MQTTConnectionHandler {
    /// The only 5.0 Authentication Method the hub knows: a SAS token as Authentication Data (or password).
    static let sasAuthenticationMethod = "SAS"

    func handleConnect(_ connect: ConnectPacket, context: ChannelHandlerContext) {
        let version = connect.protocolVersion
        let identity: ClientIdentity
        do {
            identity = try authenticate(connect)
        } catch {
            let reference = record(connect, identity: nil, failure: error.reason.code)
            logger.info(
                "Refused a connection.",
                metadata: [
                    "error.code": "\(error.reason.code.name)", "reason": "\(error.reason.reason)",
                    "decision.ref": "\(reference)",
                ])
            refuse(error.connackCode(version), version: version, context: context)
            return
        }
        var clientID = connect.clientID
        var properties = Properties()
        if clientID.isEmpty {
            // Devices are their ClientId; others may let the server choose ([MQTT-3.1.3-6]; 3.1.1 only with
            // clean session).
            guard identity.deviceIdentity == nil, connect.cleanStart || version == .v5 else {
                refuse(
                    version == .v5 ? .clientIdentifierNotValid : ConnAckPacket.ReturnCode.identifierRejected,
                    version: version, context: context)
                return
            }
            clientID = "warden-" + SecretBytes.random(count: 8).bytes.map { String($0, radix: 16) }.joined()
            if version == .v5 { properties.assignedClientIdentifier = clientID }
        }
        var will: Broker.Will?
        if let requested = connect.will {
            let decision = authorize(identity, .publish, requested.topic)
            guard decision.isAllowed else {
                logger.info("Refused a connection: its Will topic is not allowed.", metadata: decision.metadata)
                refuse(
                    version == .v5 ? .notAuthorized : ConnAckPacket.ReturnCode.notAuthorized, version: version,
                    context: context)
                return
            }
            will = makeWill(requested, identity: identity, clientID: clientID)
        }
        guard services.broker.admitConnection() else {
            refuse(
                version == .v5 ? .quotaExceeded : ConnAckPacket.ReturnCode.serverUnavailable, version: version,
                context: context)
            return
        }
        let reference = record(connect, identity: identity, failure: nil)
        logger[metadataKey: "decision.ref"] = "\(reference)"
        accept(connect, identity: identity, clientID: clientID, will: will, properties: properties, context: context)
    }

    /// Publishes the outcome of a CONNECT on the event bus (audit, detection); returns its reference id.
    private func record(_ connect: ConnectPacket, identity: ClientIdentity?, failure: WardenError.Code?) -> String {
        let claimed = services.authenticator.claimedPrincipal(connect)
        let method: AuthenticationRecord.Method =
            switch identity {
            case .device(let device):
                switch device.method {
                case .sas: .sas
                case .x509Thumbprint: .x509Thumbprint
                case .x509CA: .x509CA
                }
            case .service: .service
            case .anonymous: .anonymous
            case nil:
                if connect.username.flatMap(ServiceUsername.init) != nil {
                    .service
                } else if connect.password != nil || connect.properties.authenticationData != nil {
                    .sas
                } else if presented.result != nil {
                    .x509CA
                } else {
                    clientCertificateThumbprints.isEmpty ? .none : .x509Thumbprint
                }
            }
        let referenceID = ReferenceID.make()
        services.events.publish(
            .authentication(
                AuthenticationRecord(
                    tenantID: identity?.tenantID ?? claimed.tenantID,
                    principal: identity.map { $0.principal(clientID: connect.clientID) } ?? claimed.principal,
                    peerAddress: peerAddress, protocolName: "mqtt", method: method, isAccepted: identity != nil,
                    failure: failure,
                    certificateThumbprint: clientCertificateThumbprints.first { $0.algorithm == .sha256 },
                    referenceID: referenceID, at: services.clock.now())))
        return referenceID
    }

    private func accept(
        _ connect: ConnectPacket, identity: ClientIdentity, clientID: String, will: Broker.Will?,
        properties: Properties, context: ChannelHandlerContext
    ) {
        let version = connect.protocolVersion
        let now = context.eventLoop.now
        let configuration = services.broker.configuration
        var properties = properties
        let requestedExpiry: UInt32 =
            version == .v5 ? connect.properties.sessionExpiryInterval ?? 0 : (connect.cleanStart ? 0 : .max)
        let expiry = min(requestedExpiry, configuration.maximumSessionExpiry)
        if version == .v5, expiry != requestedExpiry { properties.sessionExpiryInterval = expiry }
        var keepAlive = connect.keepAlive
        if version == .v5, let maximum = services.listener.maximumKeepAlive, keepAlive == 0 || keepAlive > maximum {
            keepAlive = maximum
            properties.serverKeepAlive = maximum
        }
        // Azure's dialect caps keep-alive even on 3.1.1, which cannot be told (anchors.md §1.3: IoT Hub's 1767 s
        // idle limit is 1.5 × 1177 s).
        let azureCap = services.listener.azureMaximumKeepAlive
        if identity.deviceIdentity?.dialect == .azure {
            if keepAlive == 0 || keepAlive > azureCap {
                keepAlive = azureCap
                if version == .v5 { properties.serverKeepAlive = azureCap }
            }
            if version == .v5 { properties.maximumQoS = 1 }
        }
        if version == .v5 {
            properties.receiveMaximum = services.listener.receiveMaximum
            properties.topicAliasMaximum = services.listener.topicAliasMaximum
            // total: the configured maximum packet size, at most 268,435,460.
            properties.maximumPacketSize = UInt32(services.listener.decodingLimits.maximumPacketSize)
        }
        let metrics = services.broker.metrics
        let sink = ChannelSink(
            channel: context.channel, version: version,
            maximumPacketSize: connect.properties.maximumPacketSize.map(Int.init) ?? .max,
            identity: identity, peerAddress: peerAddress,
            onDrop: { metrics.dropped($0) })
        // total: widens a UInt16.
        let receiveMaximum =
            version == .v5 ? Int(connect.properties.receiveMaximum ?? .max) : configuration.maximumInflight
        let attachment = services.broker.open(
            identity.sessionKey(clientID: clientID), cleanStart: connect.cleanStart,
            expiryInterval: expiry, receiveMaximum: receiveMaximum,
            maximumPacketSize: connect.properties.maximumPacketSize.map(Int.init) ?? .max, sink: sink, now: now)
        connection = Accepted(
            identity: identity, session: attachment.session, sink: sink, version: version,
            username: connect.username, will: will)
        leavePending(authenticated: true)
        let credentialDeadline = identity.expiry.map { services.credentialDeadline(expiry: $0, now: now) }
        machine.accepted(
            version: version, keepAlive: keepAlive, credentialDeadline: credentialDeadline,
            authenticationMethod: connect.properties.authenticationMethod, sessionExpiry: expiry, now: now)
        if connect.properties.authenticationMethod != nil {
            properties.authenticationMethod = connect.properties.authenticationMethod
        }
        let connack = ConnAckPacket(
            sessionPresent: attachment.sessionPresent, reasonCode: .success, properties: properties)
        send([.connack(connack)] + attachment.resend)
        if let device = identity.deviceIdentity { services.broker.deviceReady(device.sender) }
        logger[metadataKey: "client.id"] = "\(clientID)"
        logger.info(
            "Connected.",
            metadata: [
                "tenant.id": "\(identity.tenantID)", "mqtt.version": "\(version)",
                "session.present": "\(attachment.sessionPresent)",
            ])
        scheduleTick(context)
    }

    /// Who the CONNECT is: anonymous (when the listener admits it and no credential was given) or a device.
    private func authenticate(_ connect: ConnectPacket) throws(ConnectAuthenticator.Refusal) -> ClientIdentity {
        var connect = connect
        if let method = connect.properties.authenticationMethod {
            guard method == Self.sasAuthenticationMethod else {
                throw ConnectAuthenticator.Refusal(
                    reason: WardenError(.authInvalidCredential, "Authentication Method '\(method)' is not supported."),
                    isCredentialFailure: true, isUnsupportedMethod: true)
            }
            connect.password = connect.password ?? connect.properties.authenticationData
        }
        if let access = services.listener.anonymous, connect.username == nil, connect.password == nil {
            return .anonymous(services.listener.anonymousTenant, access)
        }
        let facts = ConnectAuthenticator.ConnectionFacts(
            peerAddress: peerAddress, clientCertificateThumbprints: clientCertificateThumbprints,
            chainValidation: presented.result, now: services.unixNow)
        if let service = try services.authenticator.authenticateService(connect, facts) { return .service(service) }
        return .device(try services.authenticator.authenticate(connect, facts))
    }

    private func makeWill(_ will: ConnectPacket.Will, identity: ClientIdentity, clientID: String) -> Broker.Will {
        let message = BrokerMessage(
            topic: will.topic, payload: ByteBuffer(bytes: will.payload), qos: will.qos, retain: will.retain,
            properties: will.properties, receivedAt: .now(),
            publisher: identity.sessionKey(clientID: clientID))
        return Broker.Will(
            message: message, tenantID: identity.tenantID, delay: will.properties.willDelayInterval ?? 0,
            sender: identity.deviceIdentity?.sender)
    }

    private func refuse(_ code: ReasonCode, version: ProtocolVersion, context: ChannelHandlerContext) {
        machine.refused()
        write([.connack(ConnAckPacket(sessionPresent: false, reasonCode: code))], version: version, context: context)
        context.close(promise: nil)
    }

    /// The decision for an action of this connection's identity.
    func authorize(_ identity: ClientIdentity, _ action: AuthorizationRequest.Action, _ topic: String) -> Decision {
        switch identity {
        case .device(let device):
            services.authorizer.decide(
                AuthorizationRequest(tenantID: device.tenantID, deviceID: device.deviceID, action: action, topic: topic)
            )
        case .service(let service):
            services.authorizer.decide(
                AuthorizationRequest(
                    tenantID: service.tenantID, subject: .service(service.policyName, permissions: service.permissions),
                    action: action, topic: topic))
        case .anonymous(_, let access):
            access.decide(action, topic: topic)
        }
    }

    /// Tells the bus (and so the audit log) that `decision` refused `action` on `topic`.
    func recordDenial(_ decision: Decision, _ action: AuthorizationRequest.Action, _ topic: String) {
        guard let connection else { return }
        let identity = connection.identity
        services.events.publish(
            .authorizationDenied(
                AuthorizationDenial(
                    tenantID: identity.tenantID,
                    principal: identity.principal(clientID: connection.session.key.clientID),
                    peerAddress: peerAddress, action: action == .publish ? "publish" : "subscribe", topic: topic,
                    unmetConditions: decision.unmetConditions, referenceID: decision.referenceID,
                    at: services.clock.now())))
    }

    /// 5.0 AUTH 0x19: a fresh SAS token extends the connection past the old token's expiry.
    func handleReauthentication(_ auth: ReasonPacket, context: ChannelHandlerContext) {
        guard var connection, case .device(let current) = connection.identity,
            let token = auth.properties.authenticationData
        else {
            perform(machine.fail(.notAuthorized, "Only SAS-authenticated devices re-authenticate."), context: context)
            return
        }
        let connect = ConnectPacket(
            protocolVersion: .v5, cleanStart: false, keepAlive: 0, clientID: current.deviceID.rawValue,
            username: connection.username, password: token)
        let facts = ConnectAuthenticator.ConnectionFacts(
            peerAddress: peerAddress, clientCertificateThumbprints: clientCertificateThumbprints,
            chainValidation: presented.result, now: services.unixNow)
        guard let renewed = try? services.authenticator.authenticate(connect, facts),
            renewed.tenantID == current.tenantID, renewed.deviceID == current.deviceID
        else {
            perform(machine.fail(.notAuthorized, "Re-authentication failed."), context: context)
            return
        }
        connection.identity = .device(renewed)
        self.connection = connection
        let now = context.eventLoop.now
        machine.reauthenticated(
            credentialDeadline: renewed.expiry.map { services.credentialDeadline(expiry: $0, now: now) })
        var properties = Properties()
        properties.authenticationMethod = auth.properties.authenticationMethod
        send([.auth(ReasonPacket(reasonCode: .success, properties: properties))])
        scheduleTick(context)
    }
}

extension Decision {
    /// Log metadata: the reference id and every unmet condition.
    var metadata: Logger.Metadata {
        ["decision.ref": "\(referenceID)", "decision.unmet": "\(unmetConditions.joined(separator: "; "))"]
    }
}
