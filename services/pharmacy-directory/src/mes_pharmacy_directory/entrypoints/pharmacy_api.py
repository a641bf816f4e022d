"""Internal API on pharmacies (called by the gateway): import, search, reach, defaults, and
the patient -> pharmacy channel's counters. Models: ``mes_contracts.internal.pharmacies``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from mes_contracts.internal.pharmacies import (
    CloseAbsentOut,
    DefaultPharmaciesOut,
    DefaultPharmacyOut,
    DispensationsIn,
    DispensationsOut,
    PharmacyBatchIn,
    PharmacyBatchOut,
    PharmacyOut,
    PharmacyPageOut,
    PharmacyRecipientOut,
    RateLimitIn,
    RateLimitOut,
    RejectedRecord,
)

from ..domain.pharmacy import Pharmacy, parse_near, query_words
from ..service.pharmacies import Found, PharmacySearch, PharmacyService
from ..service.ports import PharmacyFilter
from ..service.rate_limits import RateLimiter, RateRule

__all__ = ["router"]

router = APIRouter(prefix="/internal", tags=["internal"])

MAX_PAGE = 100


async def _service(request: Request) -> PharmacyService:
    service: PharmacyService = request.app.state.pharmacies
    return service


async def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


ServiceDep = Annotated[PharmacyService, Depends(_service)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
FinessPath = Annotated[str, Path(max_length=20)]
Run = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
InsPath = Annotated[str, Path(max_length=20)]


def pharmacy_out(found: Found) -> PharmacyOut:
    p = found.pharmacy
    return PharmacyOut(
        finess=p.finess,
        name=p.name,
        address_line=p.address_line,
        postal_code=p.postal_code,
        city=p.city,
        lat=p.lat,
        lon=p.lon,
        open=p.open,
        distance_m=found.distance_m,
        can_write=found.mailbox is not None,
        mailbox=found.mailbox,
    )


@router.post("/pharmacies/batches", response_model=PharmacyBatchOut)
async def import_batch(body: PharmacyBatchIn, service: ServiceDep) -> PharmacyBatchOut:
    """Create or update pharmacies of one import run; wrong FINESS numbers are reported."""
    records = [
        Pharmacy(
            finess=r.finess.strip().upper(),
            name=" ".join(r.name.split()),
            address_line=r.address_line,
            postal_code=r.postal_code,
            city=r.city,
            lat=r.lat,
            lon=r.lon,
            open=True,
        )
        for r in body.pharmacies
    ]
    outcome = await service.import_batch(body.run, records)
    return PharmacyBatchOut(
        created=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        rejected=tuple(
            RejectedRecord(index=r.index, finess=r.finess, code=r.code, detail=r.detail)
            for r in outcome.rejected
        ),
    )


@router.post("/pharmacies/imports/{run}/close-absent", response_model=CloseAbsentOut)
async def close_absent(run: Run, service: ServiceDep) -> CloseAbsentOut:
    return CloseAbsentOut(closed=await service.close_absent(run))


@router.get("/pharmacies", response_model=PharmacyPageOut)
async def search_pharmacies(
    service: ServiceDep,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    postal_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,5}$")] = None,
    near: Annotated[str | None, Query(max_length=60)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> PharmacyPageOut:
    """Open pharmacies: by name, address, city or postal code words (each a word prefix,
    accent- and case-insensitive), by postal code, nearest first with ``near``."""
    search = PharmacySearch(
        filter=PharmacyFilter(
            words=tuple(query_words(q)) if q is not None else (), postal_code=postal_code
        ),
        near=parse_near(near) if near is not None else None,
        limit=limit,
        cursor=cursor,
    )
    page = await service.search(search)
    return PharmacyPageOut(
        items=tuple(pharmacy_out(f) for f in page.items), next_cursor=page.next_cursor
    )


@router.get("/pharmacies/{finess}", response_model=PharmacyOut)
async def get_pharmacy(finess: FinessPath, service: ServiceDep) -> PharmacyOut:
    return pharmacy_out(await service.get(finess))


@router.get("/pharmacies/{finess}/recipient", response_model=PharmacyRecipientOut)
async def pharmacy_recipient(finess: FinessPath, service: ServiceDep) -> PharmacyRecipientOut:
    """The organisational mailbox a patient writes to; 409 when closed or without one."""
    pharmacy, recipient = await service.recipient(finess)
    return PharmacyRecipientOut(
        finess=pharmacy.finess,
        name=pharmacy.name,
        mailbox=recipient.address,
        display_name=recipient.display_name,
    )


@router.put("/patients/{ins}/dispensations", response_model=DispensationsOut)
async def put_dispensations(
    ins: InsPath, body: DispensationsIn, service: ServiceDep
) -> DispensationsOut:
    count = await service.replace_dispensations(
        ins, [(d.finess, d.date) for d in body.dispensations]
    )
    return DispensationsOut(ins=ins, count=count)


@router.get("/patients/{ins}/default-pharmacies", response_model=DefaultPharmaciesOut)
async def default_pharmacies(ins: InsPath, service: ServiceDep) -> DefaultPharmaciesOut:
    found = await service.defaults(ins)
    return DefaultPharmaciesOut(
        items=tuple(
            DefaultPharmacyOut(pharmacy=pharmacy_out(f), last_dispensed_on=f.last_dispensed_on)
            for f in found
            if f.last_dispensed_on is not None
        )
    )


@router.post("/rate-limits/consume", response_model=RateLimitOut)
async def consume(body: RateLimitIn, limiter: LimiterDep) -> RateLimitOut:
    decision = await limiter.consume(
        [RateRule(r.key, r.limit, r.window_seconds) for r in body.rules]
    )
    return RateLimitOut(
        allowed=decision.allowed,
        retry_after_seconds=decision.retry_after_seconds,
        refused_key=decision.refused_key,
    )
