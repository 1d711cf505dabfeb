"""Which offices receive a report: the district's SP office and its range's DIG office."""

from __future__ import annotations

from satark.offices import District, Office, OfficeDirectory


def receiving_offices(directory: OfficeDirectory, district: District) -> tuple[Office, ...]:
    return (district.office, directory.range_of(district).office)
