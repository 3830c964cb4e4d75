"""Generate the bundled banking-support intent data set.

The text is our own (banking77 is only the inspiration), so the example project
ships with data it may redistribute and that works without the Hugging Face Hub.

* ``train`` and ``test`` are rendered from hand-written core phrasings with slots
  (card type, amount, currency, merchant, ...) and light conversational wrappers.
  Each core phrasing goes to exactly one split, so the test set measures
  generalisation to new wordings rather than to new slot values.
* ``hard`` is written by hand: indirect wording, typos, slang and vocabulary
  borrowed from neighbouring intents, so a fine-tuned model does not saturate it.

Run ``python example_project/data/make_data.py`` to rewrite the JSONL files; the
output is deterministic (fixed seed) and committed next to this script.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20240607
VARIANTS_PER_CORE = 2
TRAIN_CORE_FRACTION = 0.56
DATA_DIR = Path(__file__).resolve().parent

LABELS = [
    "card_arrival",
    "lost_or_stolen_card",
    "refund_not_showing",
    "exchange_rate",
    "top_up_failed",
    "change_pin",
    "pending_transfer",
    "cash_withdrawal_not_recognised",
    "card_payment_declined",
    "activate_card",
    "balance_not_updated",
    "cancel_transfer",
]

SLOTS: dict[str, list[str]] = {
    "card": [
        "card",
        "debit card",
        "new card",
        "replacement card",
        "Visa card",
        "Mastercard",
    ],
    "amount": [
        "£20",
        "£45.99",
        "€50",
        "$120",
        "£300",
        "35 pounds",
        "80 euros",
        "£12.50",
        "£1,000",
    ],
    "currency": [
        "euros",
        "US dollars",
        "Japanese yen",
        "Swiss francs",
        "Polish zloty",
        "Canadian dollars",
        "Turkish lira",
        "Mexican pesos",
    ],
    "merchant": [
        "Amazon",
        "eBay",
        "Zara",
        "IKEA",
        "ASOS",
        "the airline",
        "the hotel",
        "Argos",
        "the gym",
    ],
    "days": [
        "two days",
        "three days",
        "a week",
        "ten days",
        "over a week",
        "two weeks",
        "5 days",
    ],
    "country": [
        "Spain",
        "the US",
        "Japan",
        "Poland",
        "Mexico",
        "Germany",
        "Thailand",
        "Portugal",
    ],
    "place": [
        "at the supermarket",
        "in a restaurant",
        "at the petrol station",
        "online",
        "in a café",
        "at the pharmacy",
        "at Tesco",
    ],
    "method": [
        "Apple Pay",
        "Google Pay",
        "my debit card",
        "a bank transfer",
        "my credit card",
    ],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
}

PREFIXES = [
    "Hi, ",
    "Hello, ",
    "Hey, ",
    "Hi there! ",
    "Good morning. ",
    "Quick question: ",
    "Sorry to bother you, ",
    "Excuse me, ",
    "Um, ",
    "Hi team, ",
]
SUFFIXES = [
    " Thanks.",
    " Thank you!",
    " Please help.",
    " Any ideas?",
    " Can you help?",
    " Cheers.",
    " Thanks in advance.",
    " This is urgent.",
]
KEEP_CAPITALISED = {"I", "I'm", "I've", "I'd", "PIN", "ATM"} | {
    value.split()[0]
    for value in SLOTS["merchant"] + SLOTS["country"]
    if value[0].isupper()
}

CORES: dict[str, list[str]] = {
    "card_arrival": [
        "When will my {card} arrive?",
        "My {card} still hasn't arrived.",
        "I ordered a {card} {days} ago and it's not here yet.",
        "How long does it take for a new card to be delivered?",
        "Is there a way to track the delivery of my card?",
        "Still waiting on my card in the post.",
        "What's the usual delivery time for cards sent to {country}?",
        "The card you sent me never showed up.",
        "Where is my card? It's been {days}.",
        "Can you tell me when my replacement card will get here?",
        "Has my card been posted yet?",
        "I haven't received the {card} I ordered.",
        "How many days until the card comes in the mail?",
        "My card delivery seems to be taking forever.",
        "Can I get a tracking number for my card?",
        "Do you know if my card has shipped?",
        "The app says my card was dispatched but nothing has come.",
        "Expected delivery date for my card?",
        "How soon will I get my physical card?",
        "My new card is late, what's going on?",
        "Card not arrived yet, I ordered it last {weekday}.",
        "Can you check the status of my card order?",
        "It's been {days} and there's no sign of my card.",
        "Do cards get delivered by courier or regular post?",
        "I'm waiting for my card before I travel to {country}, when will it arrive?",
        "Is it normal for the card to take {days} to arrive?",
        "Nothing in the mailbox yet, where's my card?",
        "How long is shipping for a replacement card?",
        "I was told my card would arrive in a few days, but it's been {days}.",
        "Could you find out what happened to my card delivery?",
        "Will my card arrive before the weekend?",
        "My card hasn't turned up in the post.",
    ],
    "lost_or_stolen_card": [
        "I lost my {card}.",
        "My wallet was stolen with my card in it.",
        "Someone stole my card, please block it.",
        "I can't find my card anywhere.",
        "How do I freeze my card? I think I dropped it.",
        "My card was taken from my bag on the train.",
        "I left my card in a taxi in {country}.",
        "Please cancel my card, it's been stolen.",
        "What should I do if my card goes missing?",
        "I think I lost my card at the bar last night.",
        "My purse got snatched and my card was inside.",
        "Can you block my card right away? I misplaced it.",
        "I need to report a stolen card.",
        "My card is gone, I think someone pickpocketed me.",
        "How can I report my card as lost?",
        "Lost my card while travelling, what now?",
        "I misplaced my {card} and want to stop anyone using it.",
        "Is there a way to lock my card temporarily? I can't find it.",
        "My bag was stolen yesterday, including my bank card.",
        "Card lost, I need the old one blocked and a replacement.",
        "I dropped my card somewhere in town.",
        "Please deactivate my card, I no longer have it.",
        "Somebody has my card, it was stolen from my car.",
        "How quickly can you block a lost card?",
        "I've lost my wallet with my {card}.",
        "My card went missing after my holiday in {country}.",
        "Help, my card's been nicked!",
        "I'd like to report my card lost.",
        "I can't find my card since {weekday}, should I cancel it?",
        "My card was stolen, how do I get a new one?",
        "What happens if I lose my card abroad?",
        "My {card} has disappeared and I'm worried someone will use it.",
    ],
    "refund_not_showing": [
        "I'm still waiting for a refund from {merchant}.",
        "The refund from {merchant} hasn't appeared in my account.",
        "{merchant} says they refunded me but I don't see it.",
        "Why isn't my refund showing up?",
        "How long do refunds take to reach my account?",
        "I returned an item {days} ago and still no refund.",
        "The merchant confirmed a refund of {amount} but it's not on my statement.",
        "My refund is missing.",
        "Where's the money {merchant} sent back to me?",
        "A refund was issued to my card but I can't see it in the app.",
        "I got a refund email but no money in my account.",
        "Refund still not there after {days}.",
        "The shop refunded my purchase, when will I see it?",
        "Can you check whether a refund of {amount} came in?",
        "I cancelled my order and the refund hasn't come through.",
        "Still no sign of the {amount} refund.",
        "My flight was cancelled and the airline refund isn't showing.",
        "Do refunds show up as pending first?",
        "The seller processed my return but the money isn't back.",
        "Why hasn't my refund from {merchant} been credited?",
        "I was promised a refund, it's been {days}, nothing.",
        "The refund isn't reflected in my transactions.",
        "Money back from the store still isn't in my account.",
        "Can you chase a refund that's missing from my account?",
        "When will the refund for my returned parcel appear?",
        "My refund for the hotel booking hasn't arrived.",
        "How do I find a refund that {merchant} sent?",
        "Still waiting for my money back from an online order.",
        "The refund was approved {days} ago, where is it?",
        "I don't see the refund on my {card} yet.",
        "The refund shows on the merchant's side but not on mine.",
        "Is there a delay with refunds at the moment?",
    ],
    "exchange_rate": [
        "What exchange rate do you use?",
        "What's today's rate for {currency}?",
        "Why was the exchange rate so bad on my payment in {country}?",
        "Do you use the real market rate when converting currency?",
        "What rate will I get if I pay in {currency}?",
        "Is the exchange rate fixed or does it change during the day?",
        "I'd like to know the current exchange rate for {currency}.",
        "How do you calculate the conversion rate?",
        "The rate I got was different from what Google shows.",
        "Are exchange rates better on weekdays?",
        "Which exchange rate applies to card payments abroad?",
        "What's the conversion rate from pounds to {currency}?",
        "How much will I get in {currency} for {amount}?",
        "Do you add a markup on the exchange rate?",
        "Can I see the exchange rate before I exchange money?",
        "Where can I check your rates for foreign currency?",
        "Is your rate the interbank rate?",
        "Exchange rate for {currency}, please.",
        "Why did the rate change between my purchase and the final charge?",
        "What rate do you give for converting to {currency}?",
        "Are your exchange rates updated in real time?",
        "The conversion on my purchase in {country} looks wrong, which rate was used?",
        "How good are your rates compared to a high street bank?",
        "I'm travelling to {country}, what rate will I get?",
        "Where does your exchange rate come from?",
        "What is the rate for swapping {currency} back to pounds?",
        "Do exchange rates differ at weekends?",
        "Tell me the rate you're using for {currency} today.",
        "How is the currency conversion rate decided?",
        "I think I was given the wrong exchange rate.",
        "Which rate is used when I spend in {currency}?",
        "Is the exchange rate the same in the app and on the card?",
    ],
    "top_up_failed": [
        "My top up didn't work.",
        "I tried to top up with {method} but it failed.",
        "Why was my top-up declined?",
        "Top up failed, what's wrong?",
        "I can't add money to my account.",
        "The top-up keeps getting rejected.",
        "I tried to add {amount} and got an error.",
        "Why won't my card let me top up?",
        "Adding funds failed again.",
        "My top up was unsuccessful, can you help?",
        "I got a message saying the top-up could not be completed.",
        "Every time I try topping up it says failed.",
        "Is there a problem with top-ups today?",
        "The top up of {amount} was declined.",
        "Why can't I load money onto my account?",
        "I tried topping up with a new card but it was refused.",
        "Top-up not going through.",
        "My attempt to top up my balance didn't work.",
        "Adding money by {method} keeps failing.",
        "The app won't accept my top up.",
        "What does 'top-up failed' mean?",
        "I keep getting an error when loading funds.",
        "Why did my top up get cancelled?",
        "I can't top up, it just spins and then errors.",
        "My top up failed and I don't know why.",
        "The top up was reverted.",
        "Top-up with {method} rejected, please advise.",
        "My card top-up isn't working.",
        "Failed to add {amount} to my account, why?",
        "Why does my top-up keep failing?",
        "I tried to add money twice and both times it failed.",
        "Topping up from {method} gives me an error.",
    ],
    "change_pin": [
        "How do I change my PIN?",
        "I want to set a new PIN for my card.",
        "Can I reset my PIN in the app?",
        "I forgot my PIN, how do I change it?",
        "Where do I go to update my card PIN?",
        "Is it possible to pick my own PIN?",
        "I'd like to change the PIN on my {card}.",
        "Can I change my PIN at an ATM?",
        "How can I get a different PIN?",
        "My PIN is too hard to remember, can I change it?",
        "I need to reset the PIN number.",
        "Change PIN please.",
        "What are the steps to change my PIN code?",
        "Can I swap my PIN to something easier?",
        "Is there a fee for changing my PIN?",
        "I think someone saw my PIN, I want a new one.",
        "How do I update my PIN before travelling to {country}?",
        "Can I change the PIN on my {card}?",
        "Where's the option to change my PIN?",
        "I want to choose a new four digit PIN.",
        "Resetting my PIN, how does it work?",
        "Can you help me modify my PIN?",
        "I keep forgetting my PIN and want to change it.",
        "Is changing my PIN done online or at a cash machine?",
        "How long does a PIN change take to work?",
        "What's the process for getting a new PIN?",
        "I'd like to update my PIN for security reasons.",
        "Let me change my PIN.",
        "Can I set the same PIN as my old card?",
        "Where can I view or change my PIN?",
        "Please tell me how to alter my PIN.",
        "My PIN needs changing.",
    ],
    "pending_transfer": [
        "My transfer is still pending.",
        "Why is my transfer stuck on pending?",
        "I sent money {days} ago and it's still pending.",
        "How long will my transfer stay pending?",
        "The transfer to my friend hasn't gone through yet.",
        "When will my pending transfer be completed?",
        "My bank transfer of {amount} is showing as pending.",
        "The money I sent hasn't arrived, it says pending.",
        "Is there a delay with transfers? Mine is still processing.",
        "Why hasn't my transfer been processed?",
        "The payment I sent to my landlord is still in progress.",
        "Transfer pending for ages.",
        "How long do outgoing transfers take?",
        "The recipient hasn't received the money I transferred.",
        "Why does my transfer say processing?",
        "My transfer to {country} is taking too long.",
        "What does a pending status on a transfer mean?",
        "I made a transfer this morning and it's still not complete.",
        "Can you speed up my pending transfer?",
        "The transfer hasn't left my account yet.",
        "Still waiting for my transfer to clear.",
        "My international transfer has been pending since {weekday}.",
        "My payment to another bank is stuck.",
        "Why is it taking so long to send money?",
        "It's been {days} and the transfer is still processing.",
        "When will the money I sent reach the other account?",
        "The transfer status says pending, is something wrong?",
        "My friend says my transfer hasn't arrived.",
        "Is my transfer on hold?",
        "The {amount} I sent is stuck in pending.",
        "Why is my outgoing payment not completed?",
        "How do I check on a transfer that hasn't completed?",
    ],
    "cash_withdrawal_not_recognised": [
        "There's a cash withdrawal on my account I didn't make.",
        "I don't recognise an ATM withdrawal of {amount}.",
        "Someone took cash out with my card.",
        "An ATM withdrawal in {country} appeared but I've never been there.",
        "I see a withdrawal I didn't authorise.",
        "What's this cash machine withdrawal on my statement?",
        "There's a {amount} withdrawal I know nothing about.",
        "My account shows cash taken out that wasn't me.",
        "I never withdrew this money.",
        "Unknown ATM transaction on my {card}.",
        "A withdrawal was made from my account without my permission.",
        "Why is there a cash withdrawal I don't remember?",
        "Someone withdrew money from an ATM using my card.",
        "I didn't take out {amount} yesterday.",
        "Strange cash withdrawal in my app.",
        "There's an ATM charge from a machine I've never used.",
        "I have my card with me but there's a withdrawal I didn't make.",
        "Withdrawal I don't recognise, please investigate.",
        "Cash was withdrawn in {country} while I was at home.",
        "I think my card was cloned, there's a withdrawal I didn't do.",
        "Fraudulent ATM withdrawal on my account.",
        "Who made this withdrawal? It wasn't me.",
        "I want to dispute a cash withdrawal.",
        "There are two withdrawals but I only made one.",
        "I don't know where this cash withdrawal came from.",
        "Money was taken out at a cashpoint I didn't visit.",
        "I was charged for an ATM withdrawal I never made.",
        "There's an unfamiliar withdrawal from {weekday}.",
        "Can you look into a cash withdrawal I don't recognise?",
        "My statement has an ATM withdrawal that isn't mine.",
        "Someone is taking cash out of my account.",
        "This withdrawal of {amount} is not mine.",
    ],
    "card_payment_declined": [
        "My card was declined {place}.",
        "Why was my card payment declined?",
        "I tried to pay {place} and it said declined.",
        "My card got rejected at the checkout.",
        "Payment declined, but I have money in my account.",
        "Why won't my card work in shops?",
        "The card machine said transaction declined.",
        "My card was refused when paying for dinner.",
        "I couldn't pay with my card online, it was declined.",
        "Why did {merchant} decline my card?",
        "Card payment failed at the supermarket.",
        "My {card} keeps getting declined.",
        "Embarrassing, my card was declined at the till.",
        "Why is my card not being accepted?",
        "Payment with my card didn't go through {place}.",
        "The shop said my card was declined, what's wrong?",
        "My contactless payment was declined.",
        "My card was denied when I tried to buy petrol.",
        "Why are my card purchases being rejected?",
        "I was trying to buy something for {amount} and my card was declined.",
        "Card declined in {country}, can you fix it?",
        "Is there a block on my card? Payments keep failing.",
        "My card doesn't work when I pay online.",
        "Declined transaction {place}, why?",
        "The merchant couldn't take my card payment.",
        "Why did my card get rejected at the hotel?",
        "I got a declined message paying with my card.",
        "My card was declined even though my balance is fine.",
        "Can you tell me why my payment was refused?",
        "My card won't go through at the shop.",
        "Paying by card isn't working for me.",
        "My card purchase was declined twice today.",
    ],
    "activate_card": [
        "How do I activate my new card?",
        "I just got my card, how do I start using it?",
        "Where do I activate my {card}?",
        "My card arrived, what do I do to activate it?",
        "Can I activate my card in the app?",
        "Activate card please.",
        "What are the steps to activate a card?",
        "The card came today, how do I turn it on?",
        "Do I need to activate my card before using it?",
        "My card isn't activated yet, how do I do that?",
        "I received my {card} but can't activate it.",
        "How can I get my new card working?",
        "Is activation needed for the replacement card?",
        "I want to activate the card you sent.",
        "What's the process for activating my card?",
        "Card activation, how does it work?",
        "Can I use my card straight away or must I activate it first?",
        "How long does it take to activate a card?",
        "Where's the activate button for my card?",
        "My new card needs activating.",
        "Help me activate my card.",
        "I'm trying to activate my card but nothing happens.",
        "Do I activate my card online or by phone?",
        "I got my card in the post, how do I set it up?",
        "What do I do with my new card to make it work?",
        "How do I link and activate the card I received?",
        "My card came, what's next?",
        "Please help me get my {card} activated.",
        "Can I activate my card at an ATM?",
        "How do I enable my new {card}?",
        "My card is here but it's still inactive.",
        "Activating a card, where do I start?",
    ],
    "balance_not_updated": [
        "My balance hasn't updated after I deposited money.",
        "I made a bank transfer into my account but the balance is the same.",
        "Why hasn't my balance changed?",
        "The money I sent to my own account isn't showing in my balance.",
        "My balance is still showing the old amount.",
        "I deposited a cheque and my balance hasn't gone up.",
        "My account balance is wrong after a transfer came in.",
        "Balance not updated after my salary payment.",
        "The funds I transferred from my other bank aren't reflected.",
        "My employer paid me but my balance hasn't moved.",
        "Why is my balance not updating?",
        "The app shows the wrong balance.",
        "I added money via bank transfer {days} ago, it's still not in my balance.",
        "My balance is out of date.",
        "When will my balance show the money I paid in?",
        "I transferred {amount} to my account and it isn't there.",
        "My balance still hasn't refreshed.",
        "The incoming payment isn't in my balance yet.",
        "My balance looks lower than it should be.",
        "I paid in cash but my balance is unchanged.",
        "Money from my savings account hasn't reached my balance.",
        "How long until my balance updates after a deposit?",
        "My balance didn't update after the bank transfer.",
        "The deposit is confirmed but my balance hasn't increased.",
        "Why does my balance not reflect the transfer I received?",
        "Someone sent me {amount} but my balance is the same.",
        "My available balance hasn't been updated.",
        "Incoming transfer not added to my balance.",
        "My balance hasn't caught up with my deposit.",
        "It's been {days} and my balance still doesn't show the money.",
        "My balance is stuck.",
        "The balance in the app doesn't match what I paid in.",
    ],
    "cancel_transfer": [
        "How do I cancel a transfer?",
        "I sent money to the wrong person, can I cancel it?",
        "Please cancel my last transfer.",
        "Can I stop a transfer I just made?",
        "I want to reverse a payment I sent.",
        "Is it possible to cancel a bank transfer?",
        "I made a mistake on a transfer, I need to cancel it.",
        "How can I undo a transfer?",
        "Cancel the {amount} transfer I made today.",
        "I transferred to the wrong account, please stop it.",
        "Can a transfer be cancelled once it's sent?",
        "I need to call back a payment.",
        "Stop my transfer to {country} please.",
        "I changed my mind about a transfer, can I cancel it?",
        "How do I cancel a scheduled transfer?",
        "Help, I need to cancel a transfer urgently.",
        "I typed the wrong amount, can I cancel the transfer?",
        "Is there a cancel button for transfers?",
        "Can I get my money back from a transfer I sent by mistake?",
        "Please reverse my last transfer.",
        "I'd like to cancel a payment before it goes through.",
        "How quickly do I need to cancel a transfer?",
        "I sent a transfer twice by accident, cancel one please.",
        "Can you cancel the transfer to my landlord?",
        "I want to cancel a transaction I just sent.",
        "I think I've been scammed, can I cancel my transfer?",
        "Cancelling an international transfer, is it possible?",
        "I need to stop a transfer before it reaches them.",
        "Can I retract a transfer?",
        "Undo my last money transfer.",
        "How do I cancel money I sent to a friend?",
        "The transfer went to the wrong IBAN, please cancel it.",
    ],
}

HARD: dict[str, list[str]] = {
    "card_arrival": [
        "ordred my card like 2 weeks ago n still nothin",
        "postman keeps coming but never with the thing you promised to send me",
        "is my plastic ever gonna show up lol",
        "I'm getting worried, the replacement you mailed hasn't come and I fly on friday",
        "checked the letterbox every day since you said it was dispatched. nada.",
        "how long is the wait normally between ordering and it landing on my doormat?",
        "can't activate anything because there's nothing to activate, the card never came",
        "Has the new one been sent out or is it stuck somewhere?",
        "wen will i recieve my card",
        "My physical card is MIA, any update on shipping?",
        "I've been using the virtual one while I wait, but the real card still isn't here",
        "Any idea on an ETA? tracking says nothing",
        "been a month, no card. seriously?",
        "Do you deliver to Ireland? I'm still waiting for mine to get here",
    ],
    "lost_or_stolen_card": [
        "i think i left it on the bus, can you freeze it b4 someone uses it",
        "got mugged last night, they took everything incl. my card",
        "been through every pocket and the card just isn't there",
        "someone nicked my wallet at the festival",
        "Card's gone walkabout. Please lock it.",
        "my handbag was taken at the restaurant, what do I do about my bank card",
        "I'm abroad and my card has vanished, need it blocked asap",
        "pretty sure it fell out of my jacket at the station",
        "Had my pocket picked in Barcelona, card included",
        "pls block my crd its lost",
        "My kid took my card out to play and now it's nowhere to be found",
        "I no longer have my card in my possession and I'm worried someone else does",
        "my card is missing and there might be withdrawals soon, stop it now",
        "left it in the atm and walked off, now its gone",
    ],
    "refund_not_showing": [
        "shop says they sent the money back but my account disagrees",
        "returned the shoes 2 weeks ago, where's my cash",
        "Amazon reckons it's done. I can't see it anywhere.",
        "the hotel reversed the charge according to them, not showing for me tho",
        "they credited me supposedly but the app shows nothing",
        "I sent the parcel back and got a confirmation email but the money hasn't come back",
        "refnd not showin up yet, been ages",
        "the airline owes me for a cancelled flight and says it's been paid back to my card",
        "merchant said 3-5 days for the money back. it's day 9.",
        "where did my reimbursement from the store go?",
        "My return was accepted but my balance hasn't gone up",
        "a seller on eBay gave me my money back, should it be visible by now?",
        "still waiting for the cash back from that cancelled order",
        "the reversed payment isn't anywhere in my transactions",
    ],
    "exchange_rate": [
        "how many yen do i get for a tenner",
        "you guys charging me extra on the conversion or what?",
        "why did my lunch in Paris cost more than the menu price converted?",
        "is the euro price you show today's one or yesterday's",
        "wots the rate for dollars rn",
        "I'm off to Japan next month, are your rates any good?",
        "the amount in pounds doesn't match what the currency converter said",
        "Do you mark up the FX?",
        "Who decides how much my pesos are worth in your app?",
        "the number on my card payment abroad seemed off compared to the real rate",
        "what's the deal with weekend FX pricing",
        "is it cheaper to pay in local currency or in pounds?",
        "how much would 200 euros cost me in sterling?",
        "conversion on my withdrawal in Mexico looked way worse than expected",
    ],
    "top_up_failed": [
        "tried to put money in via apple pay and it just errored",
        "adding cash to my acct isnt working",
        "loaded £50 from my other bank card, got declined",
        "why does it keep bouncing when I try to add funds",
        "can't get money onto the account at all today",
        "Topup fail again?? third time",
        "the add money button gives me an error every time",
        "I attempted to fund my account with my debit card but it didn't go through",
        "My card was refused when I tried to load my account",
        "Why won't it let me put funds in?",
        "tryin to top up, says unsuccessful",
        "my google pay top-up got reversed",
        "the money I tried to load never arrived and the app says failed",
        "Is there a reason my deposit by card keeps failing?",
    ],
    "change_pin": [
        "i want a diff pin, the one i have is rubbish",
        "can my secret number be changed?",
        "my code for the card is too easy, want to swap it",
        "how do i make a new pin thingy",
        "forgot the 4 digits, can I set them again?",
        "someone watched me type my number at the cashpoint, I'd like a new one",
        "Where in the app do I pick a fresh one for the card?",
        "chnage pin",
        "I'd prefer my card code to be my birthday, is that allowed?",
        "Can I update the number I punch in at the till?",
        "my daughter knows my pin, need to change it asap",
        "Is it possible to alter the code I enter at ATMs?",
        "how to reset the pin on the replacement card",
        "the pin you gave me is impossible to remember",
    ],
    "pending_transfer": [
        "sent rent to my landlord tuesday, he still doesnt have it",
        "the money I paid my mate is stuck in limbo",
        "why does the payment still say processing after 3 days",
        "my transfer's been sitting there forever",
        "it's left my account but not arrived at theirs",
        "how long b4 the transfer actually goes thru",
        "tranfer still pendng",
        "Is there a hold-up with payments to other banks? mine hasn't landed",
        "my international payment shows 'in progress' since monday",
        "the other person hasn't got my money yet, why?",
        "Is the transfer I made yesterday going to clear today?",
        "my mum is still waiting for the money i sent her",
        "payment to my supplier still hasn't been completed",
        "my balance went down but the recipient has nothing",
    ],
    "cash_withdrawal_not_recognised": [
        "some atm took out 200 quid and it wasn't me",
        "there's cash out on my acct from a machine in a town I've never been to",
        "I never went to a cashpoint yesterday but the app says I did",
        "who took out money at 3am? I was asleep",
        "weird ATM thing on my statement",
        "Someone got cash using my card while it was in my wallet",
        "£100 pulled from an ATM in Spain, I'm in Leeds",
        "dont recognise this withdrawl",
        "There's a cash machine transaction I have no memory of",
        "money disappeared through an atm, not by me",
        "I've got my card on me but somebody still managed to get money out",
        "unauthorised cash out on my card from last weekend",
        "my account got hit by ATM withdrawals I didn't do, lost my card last week though",
        "there's a cash withdrawal in euros I didn't make",
    ],
    "card_payment_declined": [
        "card got rejected at tesco, so embarrassing",
        "tried paying for petrol and the machine said no",
        "my card just wont work at the shops",
        "bought a coffee and it bounced",
        "why cant i buy stuff online with my card",
        "the restaurant said the payment didn't go through",
        "contactless keeps saying declined",
        "payment refused at the hotel reception even though I have funds",
        "my card was denied at the checkout, twice",
        "tried to pay for my netflix and it failed",
        "Card wont go thru at the till",
        "why is my card being knocked back when I pay?",
        "The cashier said insufficient funds but my balance is fine",
        "I tried to pay in euros and got refused",
    ],
    "activate_card": [
        "got the card in the mail, now what",
        "how do i turn on my card",
        "card's here! how do I get it working?",
        "just received the replacement, does it need setting up?",
        "the new card came but it won't work yet",
        "what do I need to do before my first purchase with the card?",
        "activate pls",
        "is there something I need to do to make the card live?",
        "new card arrived today, do I have to do anything?",
        "my card came with a letter about enabling it, where do I do that?",
        "actvate my card",
        "can I start using the card right away or is there a step first?",
        "the card you posted arrived but the app says inactive",
        "how to get my new card ready to use",
    ],
    "balance_not_updated": [
        "paid in my wages and the number hasn't moved",
        "transferred from my savings hours ago and my account still shows the same",
        "why's my balance still the old figure",
        "the cheque cleared but I don't see more money",
        "my mate says he sent me money but my account is still at zero",
        "the bank transfer I did into this account isn't reflected",
        "balence not updating",
        "I moved money over from my other bank and nothing's changed",
        "the app is showing yesterday's amount",
        "i transferd 300 from barclays and my balance didnt go up",
        "my salary came in according to my employer but my total is the same",
        "my available funds look wrong after a deposit",
        "Is there a delay on incoming payments? my account still shows the old balance",
        "cash deposit at the branch isnt in my account yet",
    ],
    "cancel_transfer": [
        "sent money to the wrong guy, can u stop it",
        "oops, paid the wrong account. reverse it?",
        "I need to pull back the payment I just made",
        "can i undo that payment i just sent",
        "accidentally sent it twice, need one cancelled",
        "stop the payment to my landlord, I've changed my mind",
        "I think it was a scam, please halt the money I sent",
        "cancle my transfer",
        "is there any way to get back money I sent a minute ago?",
        "wrong IBAN, help me get it back before it arrives",
        "my transfer is still pending, can I cancel it?",
        "please don't let that transfer go through",
        "typed an extra zero on a transfer, stop it!",
        "can I recall a transfer?",
    ],
}


def _fill(core: str, rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(SLOTS[m.group(1)]), core)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _wrap(text: str, rng: random.Random) -> str:
    """Add the greetings, sign-offs and casual typing real support chats have."""
    text = _capitalise(text)
    if rng.random() < 0.35:
        prefix = rng.choice(PREFIXES)
        first_word = text.split()[0].rstrip(",.?!")
        if prefix.endswith(", ") and first_word not in KEEP_CAPITALISED:
            text = text[:1].lower() + text[1:]
        text = prefix + text
    if rng.random() < 0.3:
        text = text + rng.choice(SUFFIXES)
    if rng.random() < 0.2:
        text = text.lower().rstrip(".!")
        if rng.random() < 0.5:
            text = text.replace("'", "")
    return text


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9£€$]+", " ", text.lower()).strip()


def _render(core: str, rng: random.Random, seen: set[str]) -> list[str]:
    out: list[str] = []
    for _ in range(VARIANTS_PER_CORE):
        for _attempt in range(20):
            text = _wrap(_fill(core, rng), rng)
            if _normalise(text) not in seen:
                seen.add(_normalise(text))
                out.append(text)
                break
    return out


def build_splits(seed: int = SEED) -> dict[str, list[dict[str, object]]]:
    """Return ``{"train": rows, "test": rows, "hard": rows}`` with unique texts."""
    rng = random.Random(seed)
    seen: set[str] = {_normalise(t) for texts in HARD.values() for t in texts}
    rows: dict[str, list[tuple[str, int]]] = {"train": [], "test": [], "hard": []}
    for label, name in enumerate(LABELS):
        cores = list(CORES[name])
        rng.shuffle(cores)
        n_train = round(len(cores) * TRAIN_CORE_FRACTION)
        for split, split_cores in (
            ("train", cores[:n_train]),
            ("test", cores[n_train:]),
        ):
            for core in split_cores:
                rows[split].extend((text, label) for text in _render(core, rng, seen))
        rows["hard"].extend((text, label) for text in HARD[name])
    result: dict[str, list[dict[str, object]]] = {}
    for split, pairs in rows.items():
        rng.shuffle(pairs)
        result[split] = [
            {"id": f"{split}-{i:04d}", "text": text, "label": label}
            for i, (text, label) in enumerate(pairs, start=1)
        ]
    all_texts = [
        _normalise(str(r["text"])) for split_rows in result.values() for r in split_rows
    ]
    if len(all_texts) != len(set(all_texts)):
        raise ValueError("duplicate utterances across splits")
    return result


def write(data_dir: Path = DATA_DIR, seed: int = SEED) -> dict[str, int]:
    """Write ``labels.json`` and one JSONL file per split; return row counts."""
    (data_dir / "labels.json").write_text(
        json.dumps(LABELS, indent=2) + "\n", encoding="utf-8"
    )
    counts: dict[str, int] = {}
    for split, split_rows in build_splits(seed).items():
        lines = (json.dumps(row, ensure_ascii=False) for row in split_rows)
        (data_dir / f"{split}.jsonl").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
        counts[split] = len(split_rows)
    return counts


if __name__ == "__main__":
    for split_name, count in write().items():
        print(f"{split_name}: {count} rows")
