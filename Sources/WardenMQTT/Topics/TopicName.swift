/// The rules for a PUBLISH Topic Name: at least one character, no wildcard characters
/// (3.1.1 [MQTT-4.7.3-1], [MQTT-3.3.2-2]; 5.0 [MQTT-4.7.3-1], [MQTT-3.3.2-2]). U+0000 and bad UTF-8 are
/// already refused by the string reader.
public enum TopicName {
    /// Whether `topic` is a valid Topic Name.
    public static func isValid(_ topic: String) -> Bool {
        !topic.isEmpty && !topic.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") })
    }

    /// Refuses a topic name or filter of more than `limit` levels (a Protocol Error: the bytes are well formed).
    static func checkLevels(_ topic: some StringProtocol, limit: Int) throws(MQTTDecodingError) {
        var levels = 1
        for byte in topic.utf8 where byte == UInt8(ascii: "/") {
            levels += 1
            if levels > limit { throw MQTTDecodingError(.protocolError, "topic.too_many_levels", limit: limit) }
        }
    }
}
