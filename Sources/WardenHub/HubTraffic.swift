import WardenAzure
public import WardenBroker

/// The hub's side of the broker (`DeviceTrafficHandler`): sends each device PUBLISH to the feature its topic
/// belongs to; everything else is routed as plain MQTT.
public struct HubTraffic: DeviceTrafficHandler {
    let telemetry: TelemetryIngest
    let cloudToDevice: CloudToDeviceService
    let twins: TwinService
    let methods: MethodService
    let presence: DevicePresence

    public init(
        telemetry: TelemetryIngest, cloudToDevice: CloudToDeviceService, twins: TwinService, methods: MethodService,
        presence: DevicePresence
    ) {
        self.telemetry = telemetry
        self.cloudToDevice = cloudToDevice
        self.twins = twins
        self.methods = methods
        self.presence = presence
    }

    public func received(_ message: BrokerMessage, from sender: DeviceSender, isWill: Bool) -> DeviceTrafficOutcome {
        switch AzureTopic(message.topic) {
        case .telemetry(let deviceID, let bag) where deviceID == sender.deviceID:
            return telemetry.ingest(message, bag: bag, from: sender, isWill: isWill)
        case .twinGet(let requestID):
            return twins.get(requestID, from: sender)
        case .twinReportedPatch(let requestID):
            return twins.patchReported(message.payload, requestID, from: sender)
        case .methodResponse(let status, let requestID):
            return methods.answered(status, requestID, message, from: sender)
        default:
            guard !message.topic.hasPrefix(AzureTopic.hubPrefix) else {
                return .refused("'\(message.topic)' is not a topic of the hub")
            }
            return DeviceTrafficOutcome(route: message)
        }
    }

    public func deviceReady(_ sender: DeviceSender) {
        presence.touched(sender.deviceID, in: sender.tenantID)
        cloudToDevice.deliverPending(.init(tenantID: sender.tenantID, deviceID: sender.deviceID))
    }

    public func deviceGone(_ sender: DeviceSender) {
        presence.touched(sender.deviceID, in: sender.tenantID)
        cloudToDevice.deviceGone(.init(tenantID: sender.tenantID, deviceID: sender.deviceID))
    }
}
