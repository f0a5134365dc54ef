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
        if let bag = TelemetryIngest.propertyBag(of: message.topic, deviceID: sender.deviceID) {
            return telemetry.ingest(message, bag: bag, from: sender, isWill: isWill)
        }
        if message.topic.hasPrefix("$iothub/") {
            return twins.received(message, from: sender) ?? methods.received(message, from: sender)
                ?? .refused("'\(message.topic)' is not a topic of the hub")
        }
        return DeviceTrafficOutcome(route: message)
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
