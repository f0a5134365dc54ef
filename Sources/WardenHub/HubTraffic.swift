public import WardenBroker

/// The hub's side of the broker (`DeviceTrafficHandler`): sends each device PUBLISH to the feature its topic
/// belongs to; everything else is routed as plain MQTT.
public struct HubTraffic: DeviceTrafficHandler {
    let telemetry: TelemetryIngest

    public init(telemetry: TelemetryIngest) {
        self.telemetry = telemetry
    }

    public func received(_ message: BrokerMessage, from sender: DeviceSender, isWill: Bool) -> DeviceTrafficOutcome {
        if let bag = TelemetryIngest.propertyBag(of: message.topic, deviceID: sender.deviceID) {
            return telemetry.ingest(message, bag: bag, from: sender, isWill: isWill)
        }
        return DeviceTrafficOutcome(route: message)
    }
}
