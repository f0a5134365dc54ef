/// Which rules a device connection follows (anchors.md §1.11).
public enum DeviceDialect: String, Sendable, Hashable {
    /// The Azure IoT device protocol, chosen by an `api-version` in the username (every Azure SDK sends one):
    /// QoS 2 PUBLISH closes the connection, QoS 2 SUBSCRIBE is granted QoS 1, RETAIN becomes a property, and
    /// keep-alive is capped.
    case azure
    /// Plain MQTT under the same topic policy (username `{host}/{deviceId}`).
    case plain
}
