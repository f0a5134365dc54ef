/// What the management and device APIs use of the hub, built once at start-up.
public struct HubServices: Sendable {
    public let telemetry: TelemetryReader
    public let cloudToDevice: CloudToDeviceService
    public let twins: TwinService
    public let methods: MethodService
    public let devices: DeviceGateway
    public let presence: DevicePresence

    public init(
        telemetry: TelemetryReader, cloudToDevice: CloudToDeviceService, twins: TwinService, methods: MethodService,
        devices: DeviceGateway, presence: DevicePresence
    ) {
        self.telemetry = telemetry
        self.cloudToDevice = cloudToDevice
        self.twins = twins
        self.methods = methods
        self.devices = devices
        self.presence = presence
    }
}
