import ArgumentParser
import Foundation
import NIOHTTP1
import WardenAPI
import WardenCore

/// `warden c2d …`: a device's cloud-to-device queue.
struct CloudToDeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "c2d", abstract: "Send cloud-to-device messages; list and purge a device's queue.",
        subcommands: [Send.self, List.self, Purge.self, Feedback.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a message for a device (printed once committed).")
        @OptionGroup var target: DeviceCommand.Target
        @Option(help: "The message body (text).") var body: String
        @Option(name: .customLong("property"), help: "An application property, name=value (repeatable).")
        var properties: [String] = []
        @Option(help: "How long it may wait: seconds, or with a unit (90s, 15m, 2h, 2d). Default: the hub's.")
        var ttl: String?
        @Option(help: "Feedback wanted: none, positive, negative or full.") var ack = "none"
        @Option(help: "The message id (default: generated).") var messageId: String?
        @Option(help: "The correlation id.") var correlationId: String?
        @OptionGroup var client: ClientOptions

        /// Malformed flags are usage errors, told with this subcommand's usage.
        func validate() throws {
            _ = try propertyBag()
            if let ttl, DurationText.seconds(ttl) == nil {
                throw ValidationError("--ttl takes seconds or a number with s, m, h or d, not '\(ttl)'.")
            }
        }

        private func propertyBag() throws -> [String: String] {
            var bag: [String: String] = [:]
            for property in properties {
                guard let equals = property.firstIndex(of: "="), equals != property.startIndex else {
                    throw ValidationError("--property takes name=value, not '\(property)'.")
                }
                bag[String(property[..<equals])] = String(property[property.index(after: equals)...])
            }
            return bag
        }

        func run() async throws {
            var payload: [String: Any] = ["body": body, "ack": ack]
            let bag = try propertyBag()
            if !bag.isEmpty { payload["properties"] = bag }
            if let ttl {
                payload["ttlSeconds"] = DurationText.seconds(ttl).map { Int(clamping: $0) }
            }
            if let messageId { payload["messageId"] = messageId }
            if let correlationId { payload["correlationId"] = correlationId }
            try await APIClient.run(client) { api, output in
                try await api.show(
                    .POST, target.path + "/c2d", body: payload, as: CloudToDeviceResource.self, to: output
                ) { message in
                    output.line(
                        "Queued message \(message.messageId) (#\(message.sequenceNumber)) for \(message.deviceId); "
                            + "it expires at \(message.expiryTime).")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a device's queue, oldest first.")
        @OptionGroup var target: DeviceCommand.Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.GET, target.path + "/c2d")
                if output.isJSON { return output.json(data) }
                let messages = try api.decode(ListResource<CloudToDeviceResource>.self, data).items
                output.table(
                    ["SEQ", "MESSAGE ID", "STATE", "DELIVERIES", "ACK", "EXPIRES", "BODY"],
                    messages.map {
                        [
                            String($0.sequenceNumber), $0.messageId, $0.state, String($0.deliveryCount), $0.ack,
                            $0.expiryTime, $0.bodyEncoding == "base64" ? "base64:" + $0.body : $0.body,
                        ]
                    })
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Empty a device's queue.")
        @OptionGroup var target: DeviceCommand.Target
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let data = try await api.send(.DELETE, target.path + "/c2d")
                if output.isJSON { return output.json(data) }
                struct Purged: Decodable { let purged: Int }
                output.line("Purged \(try api.decode(Purged.self, data).purged) message(s) for \(target.id).")
            }
        }
    }

    struct Feedback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the tenant's feedback records (for messages sent with --ack).")
        @Option(help: "The tenant (default: default).") var tenant = "default"
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await APIClient.run(client) { api, output in
                let records: [FeedbackResource] = try await api.all(
                    "/api/v1/tenants/\(APIClient.segment(tenant))/c2d-feedback")
                if output.isJSON { return try output.json(encoding: records) }
                output.table(
                    ["SEQ", "DEVICE", "MESSAGE ID", "STATUS", "RECORDED"],
                    records.map {
                        [
                            String($0.sequenceNumber), $0.deviceId, $0.originalMessageId, $0.statusCode,
                            $0.recordedTimeUtc,
                        ]
                    })
            }
        }
    }
}
