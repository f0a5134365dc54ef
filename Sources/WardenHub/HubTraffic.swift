public import WardenBroker

/// The hub's side of the broker (`DeviceTrafficHandler`): sends each device PUBLISH to the feature its topic
/// belongs to; everything else is routed as plain MQTT.
public struct HubTraffic: DeviceTrafficHandler {
    let telemetry: TelemetryIngest
    let cloudToDevice: CloudToDeviceService

    public init(telemetry: TelemetryIngest, cloudToDevice: CloudToDeviceService) {
        self.telemetry = telemetry
        self.cloudToDevice = cloudToDevice
    }

    public func received(_ message: BrokerMessage, from sender: DeviceSender, isWill: Bool) -> DeviceTrafficOutcome {
        if let bag = TelemetryIngest.propertyBag(of: message.topic, deviceID: sender.deviceID) {
            return telemetry.ingest(message, bag: bag, from: sender, isWill: isWill)
        }
        return DeviceTrafficOutcome(route: message)
    }

    public func deviceReady(_ sender: DeviceSender) {
        cloudToDevice.deliverPending(.init(tenantID: sender.tenantID, deviceID: sender.deviceID))
    }

    public func deviceGone(_ sender: DeviceSender) {
        cloudToDevice.deviceGone(.init(tenantID: sender.tenantID, deviceID: sender.deviceID))
    }
}
