import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import WardenCore
import WardenMQTT

/// A long run with a fleet that behaves like one: every device stays connected, publishes QoS 1 telemetry
/// now and then and takes its cloud-to-device messages; each second a few devices leave politely and come
/// back; an API client sends cloud-to-device messages to random devices. One JSON line per window says what
/// moved, how fast it was acknowledged and what failed; `bench/soak.sh` samples the server beside it.
struct SoakScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "A fleet for a long run: telemetry, cloud-to-device and reconnects; a JSON line per window.")

    @OptionGroup var connection: DeviceOptions
    @Option(help: "The management API's base URL (for cloud-to-device sends).") var api = "https://localhost:8443"
    @Option(help: "A bearer credential with devices.control (when --c2d-rate is above 0).") var token: String?
    @Option(help: "The devices' tenant.") var tenant = "default"
    @Option(help: "Seconds of the whole run, the first connections included.") var duration = 1800
    @Option(help: "Seconds between one device's telemetry messages.") var interval = 10
    @Option(help: "Devices that disconnect and reconnect each second.") var churn = 20
    @Option(help: "Cloud-to-device messages per second, through the API, to random devices.") var c2dRate = 10
    @Option(help: "New connections per second while the fleet first connects.") var rampRate = 500
    @Option(help: "Seconds per reported window.") var window = 10

    func validate() throws {
        try OptionBounds.check(interval, 1...3600, "interval")
        try OptionBounds.check(churn, 0...connection.devices, "churn")
        try OptionBounds.check(c2dRate, 0...10_000, "c2d-rate")
        try OptionBounds.check(rampRate, 1...100_000, "ramp-rate")
        try OptionBounds.check(window, 1...3600, "window")
        if c2dRate > 0, token == nil { throw ValidationError("--c2d-rate needs --token.") }
        // A device's SAS token lasts an hour (DeviceOptions.connectPacket); the hub closes it then.
        try OptionBounds.check(duration, 1...3000, "duration (tokens last an hour)")
    }

    func run() async throws {
        let meters = SoakDevice.Meters()
        // total: validate() bounds every option used here.
        let fleet = Fleet(devices: connection.devices, interval: .seconds(Int64(interval)), meters: meters)
        let start = NIODeadline.now()
        // total: validate() bounds every option used here.
        let stopAt = start + .seconds(Int64(duration))
        let c2d = CloudToDeviceCounts()
        let http = try CloudToDeviceSend.client(trusting: connection.ca)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<connection.devices {
                let due = start + .nanoseconds(Int64(clamping: Double(index) / Double(rampRate) * 1e9))
                group.addTask { await keepConnected(index, fleet: fleet, firstAt: due, stopAt: stopAt) }
            }
            group.addTask { try await churnDevices(fleet, until: stopAt) }
            if let token, c2dRate > 0 {
                group.addTask { try await sendCloudToDevice(http, token: token, counts: c2d, until: stopAt) }
            }
            group.addTask { try await report(meters, fleet: fleet, c2d: c2d, start: start, until: stopAt) }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(max(0, (stopAt - .now()).nanoseconds)))
                for index in 0..<connection.devices { await fleet.retire(index) }
            }
            try await group.waitForAll()
        }
        try await http.shutdown()
        if fleet.totalErrors > 0 { throw ExitCode.failure }
    }

    /// Device `index`'s life: connect (first at `firstAt`), stay until closed, come back; a close nobody
    /// asked for is an error and waits a second before the next try.
    private func keepConnected(_ index: Int, fleet: Fleet, firstAt: NIODeadline, stopAt: NIODeadline) async {
        try? await Task.sleep(for: .nanoseconds(max(0, (firstAt - .now()).nanoseconds)))
        while NIODeadline.now() < stopAt {
            do {
                let device = SoakDevice(
                    connect: try connection.connectPacket(index), interval: fleet.interval, meters: fleet.meters)
                let channel = try await connection.connect(index, device)
                fleet.attach(index, channel: channel, device: device)
                try? await channel.closeFuture.get()
                if fleet.detach(index) { continue }
                fleet.meters.telemetry.error("closed by the server")
            } catch {
                fleet.meters.telemetry.error("connect: \(type(of: error))")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Each second, `churn` random connected devices leave (and their `keepConnected` brings them back).
    private func churnDevices(_ fleet: Fleet, until stopAt: NIODeadline) async throws {
        guard churn > 0 else { return }
        while NIODeadline.now() + .seconds(1) < stopAt {
            try await Task.sleep(for: .seconds(1))
            for _ in 0..<churn { await fleet.retire(.random(in: 0..<connection.devices)) }
        }
    }

    /// `c2dRate` sends a second to random devices, each second's sends concurrently.
    private func sendCloudToDevice(_ http: HTTPClient, token: String, counts: CloudToDeviceCounts, until: NIODeadline)
        async throws
    {
        while NIODeadline.now() + .seconds(1) < until {
            let second = NIODeadline.now()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<c2dRate {
                    group.addTask {
                        await send(to: connection.deviceID(.random(in: 0..<connection.devices)), http, token, counts)
                    }
                }
            }
            try await Task.sleep(for: .nanoseconds(max(0, (second + .seconds(1) - .now()).nanoseconds)))
        }
    }

    private func send(to device: String, _ http: HTTPClient, _ token: String, _ counts: CloudToDeviceCounts) async {
        let request = CloudToDeviceSend(api: api, tenant: tenant, token: token).request(to: device)
        do {
            let response = try await http.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            switch response.status.code {
            case 201: counts.sent.add(1, ordering: .relaxed)
            // A device that was away long enough has a full queue: the hub said so, as it should.
            case 429: counts.queueFull.add(1, ordering: .relaxed)
            default: counts.errors.add(1, ordering: .relaxed)
            }
        } catch {
            counts.errors.add(1, ordering: .relaxed)
        }
    }

    /// One JSON line per window until the end, then one with the run's totals.
    private func report(
        _ meters: SoakDevice.Meters, fleet: Fleet, c2d: CloudToDeviceCounts, start: NIODeadline,
        until stopAt: NIODeadline
    ) async throws {
        var totals = SoakTotals()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var windowStart = NIODeadline.now()
        while windowStart < stopAt {
            // total: validate() bounds --window.
            try await Task.sleep(for: .seconds(window))
            let now = NIODeadline.now()
            let seconds = Double((now - windowStart).nanoseconds) / 1e9
            windowStart = now
            let line = SoakWindow(
                time: Date().timeIntervalSince1970, elapsed: Double((now - start).nanoseconds) / 1e9,
                connected: meters.connected.load(ordering: .relaxed),
                telemetry: meters.telemetry.takeSummary(seconds: seconds),
                cloudToDevice: meters.cloudToDevice.takeSummary(seconds: seconds),
                c2dSent: c2d.sent.exchange(0, ordering: .relaxed),
                c2dQueueFull: c2d.queueFull.exchange(0, ordering: .relaxed),
                c2dErrors: c2d.errors.exchange(0, ordering: .relaxed),
                reconnects: fleet.reconnects.exchange(0, ordering: .relaxed))
            totals.add(line)
            fleet.addErrors(line.errors)
            print(String(decoding: try encoder.encode(line), as: UTF8.self))
            // Each window as it ends, also when the output is a file (a long run is followed with tail -f).
            fflush(nil)
        }
        print(String(decoding: try encoder.encode(["totals": totals]), as: UTF8.self))
    }
}

/// The devices' current connections: which to retire, and whether a close was asked for.
final class Fleet: Sendable {
    private struct Slot {
        var channel: (any Channel)?
        var device: SoakDevice?
        var isRetiring = false
    }

    let interval: TimeAmount
    let meters: SoakDevice.Meters
    let reconnects = Atomic(0)
    private let errors = Atomic(0)
    private let slots: Mutex<[Slot]>

    init(devices: Int, interval: TimeAmount, meters: SoakDevice.Meters) {
        self.interval = interval
        self.meters = meters
        // total: validate() bounds --devices (DeviceOptions) to a positive count.
        self.slots = Mutex(Array(repeating: Slot(), count: devices))
    }

    func attach(_ index: Int, channel: any Channel, device: SoakDevice) {
        slots.withLock { $0[index] = Slot(channel: channel, device: device) }
    }

    /// Forgets device `index`'s closed connection; true when the close was asked for (then it counts as a
    /// reconnect).
    func detach(_ index: Int) -> Bool {
        let wasRetiring = slots.withLock { slots in
            defer { slots[index] = Slot() }
            return slots[index].isRetiring
        }
        if wasRetiring { reconnects.add(1, ordering: .relaxed) }
        return wasRetiring
    }

    /// Asks device `index` to leave, if it is connected and not already leaving.
    func retire(_ index: Int) async {
        let target: (any Channel, SoakDevice)? = slots.withLock { slots in
            guard !slots[index].isRetiring, let channel = slots[index].channel, let device = slots[index].device
            else { return nil }
            slots[index].isRetiring = true
            return (channel, device)
        }
        guard let (channel, device) = target else { return }
        try? await channel.eventLoop.submit { device.retire() }.get()
    }

    func addErrors(_ count: Int) { errors.add(count, ordering: .relaxed) }
    var totalErrors: Int { errors.load(ordering: .relaxed) }
}

/// Cloud-to-device sends of the current window.
final class CloudToDeviceCounts: Sendable {
    let sent = Atomic(0)
    let queueFull = Atomic(0)
    let errors = Atomic(0)
}

/// One reported window.
struct SoakWindow: Codable {
    let time: Double
    let elapsed: Double
    let connected: Int
    let telemetry: Recorder.Summary
    let cloudToDevice: Recorder.Summary
    let c2dSent: Int
    let c2dQueueFull: Int
    let c2dErrors: Int
    let reconnects: Int

    var errors: Int { telemetry.errors + cloudToDevice.errors + c2dErrors }
}

/// The whole run.
struct SoakTotals: Codable {
    var telemetry = 0
    var c2dSent = 0
    var c2dReceived = 0
    var c2dQueueFull = 0
    var reconnects = 0
    var errors: [String: Int] = [:]

    mutating func add(_ window: SoakWindow) {
        telemetry += window.telemetry.count
        c2dSent += window.c2dSent
        c2dReceived += window.cloudToDevice.count
        c2dQueueFull += window.c2dQueueFull
        reconnects += window.reconnects
        errors.merge(window.telemetry.errorsByKind, uniquingKeysWith: +)
        errors.merge(window.cloudToDevice.errorsByKind, uniquingKeysWith: +)
        if window.c2dErrors > 0 { errors["c2d API", default: 0] += window.c2dErrors }
    }
}
